// The baseline UniCode argues against: a visual codebook of its own behind the text ids (notebook 07's offset layout).
using Kit.Quantizers;
using TorchSharp;

namespace Kit.Language.UnifiedCodebook;

/// <summary>The kit's VQ recipe with a codebook of its own; the LLM trains its whole table, the new code rows included.</summary>
public sealed class SeparateCodebookParadigm()
    : CodebookParadigmBase(CodebookParadigmKind.Separate, "separate codebook", sharesRows: false, freezesTable: false, trainsJointly: false)
{
    public override Quantizer Quantizer(int dim, Func<torch.Tensor> rows, QuantizerSpec recipe) => recipe.Build(dim);
}
