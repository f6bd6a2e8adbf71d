// UniCode §3.2, the frozen codebook: the LLM's word embeddings are the codes and nobody learns them.
using Kit.Quantizers;
using TorchSharp;

namespace Kit.Language.UnifiedCodebook;

/// <summary>The tokenizer quantizes onto the LLM's rows as they are; the LLM's table stays frozen.</summary>
public sealed class FrozenParadigm()
    : CodebookParadigmBase(CodebookParadigmKind.Frozen, "frozen", sharesRows: true, freezesTable: true, trainsJointly: false)
{
    public override Quantizer Quantizer(int dim, Func<torch.Tensor> rows, QuantizerSpec recipe) => new VectorQuantizer(dim,
        new ExternalCodebook(rows));
}
