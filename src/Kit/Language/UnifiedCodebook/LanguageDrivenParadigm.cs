// UniCode §3.2, language-driven iterative training: an EMA codebook pulled toward the LLM's rows,
// C_t = (1 − r)·Ê + r·C_L, r = min(1, step / ramp), then a tail at r = 1 so that the tokenizer ends on the rows themselves.
using Kit.Quantizers;
using Kit.Tokenizers;
using TorchSharp;

namespace Kit.Language.UnifiedCodebook;

/// <summary>The tokenizer's EMA codebook is pulled onto the LLM's rows over a ramp; the LLM's table stays frozen.</summary>
public sealed class LanguageDrivenParadigm()
    : CodebookParadigmBase(CodebookParadigmKind.LanguageDriven, "language-driven iterative", sharesRows: true, freezesTable: true,
        trainsJointly: false)
{
    public override Quantizer Quantizer(int dim, Func<torch.Tensor> rows, QuantizerSpec recipe) =>
        new VectorQuantizer(dim, new LanguageDrivenCodebook(rows), kmeansInit: true, deadCodeThreshold: recipe.DeadCodeThreshold);

    /// <summary>Every pulled codebook of <paramref name="tokenizer"/> (one per layer when stacked) follows r; the adversarial weight scales
    /// with 1 − 0.9 r.</summary>
    public override TokenizerHooks Hooks(ImageTokenizer tokenizer, int rampSteps)
    {
        var pulled = tokenizer.modules().OfType<LanguageDrivenCodebook>().ToList();
        return new TokenizerHooks(
            BeforeStep: step => { foreach (var p in pulled) p.Ratio = LanguageDrivenCodebook.RatioAt(step, rampSteps); },
            AdversarialScale: step => LanguageDrivenCodebook.AdversarialScale(LanguageDrivenCodebook.RatioAt(step, rampSteps)),
            Finish: () => { foreach (var p in pulled) p.Ratio = 1; });
    }
}
