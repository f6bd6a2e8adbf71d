// The baseline UniCode argues against: a visual codebook of its own behind the text ids (notebook 07's offset layout).
using Kit.Quantizers;
using TorchSharp;

namespace Kit.Language.UnifiedCodebook;

/// <summary>The kit's VQ recipe with a codebook of its own; the LLM trains its whole table, the new code rows included.</summary>
public sealed class SeparateCodebookParadigm : ICodebookParadigm
{
    public CodebookParadigmKind Kind => CodebookParadigmKind.Separate;
    public string Name => "separate codebook";
    public bool SharesRows => false;
    public bool FreezesTable => false;
    public bool TrainsJointly => false;

    public Quantizer Quantizer(int dim, Func<torch.Tensor> rows, QuantizerSpec recipe) => recipe.Build(dim);
}
