// UniCode §3.2, dual alternating training: the tokenizer learns its copy of the rows by the codebook loss, the LLM
// learns its table, and the two take each other's codebook at every phase change (DualAlternatingTraining).
using Kit.Quantizers;
using TorchSharp;

namespace Kit.Language.UnifiedCodebook;

/// <summary>Tokenizer and LLM phases alternate in one loop; every LLM weight trains, its table included.</summary>
public sealed class DualAlternatingParadigm()
    : CodebookParadigmBase(CodebookParadigmKind.DualAlternating, "dual alternating", sharesRows: true, freezesTable: false,
        trainsJointly: true)
{
    // A gradient-learned copy of the rows that never restarts codes: the LLM reads each code as a word.
    public override Quantizer Quantizer(int dim, Func<torch.Tensor> rows, QuantizerSpec recipe) => new VectorQuantizer(dim,
        new GradientCodebook(rows().detach()));
}
