// UniCode §3.2, the frozen codebook: the LLM's word embeddings are the codes and nobody learns them.
using Kit.Quantizers;
using TorchSharp;

namespace Kit.Language.UnifiedCodebook;

/// <summary>The tokenizer quantizes onto the LLM's rows as they are; the LLM's table stays frozen.</summary>
public sealed class FrozenParadigm : ICodebookParadigm
{
    public CodebookParadigmKind Kind => CodebookParadigmKind.Frozen;
    public string Name => "frozen";
    public bool SharesRows => true;
    public bool FreezesTable => true;
    public bool TrainsJointly => false;

    public Quantizer Quantizer(int dim, Func<torch.Tensor> rows, QuantizerSpec recipe) => new VectorQuantizer(dim, new ExternalCodebook(rows));
}
