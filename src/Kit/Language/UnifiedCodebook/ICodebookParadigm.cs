// UniCode (Zheng et al., 2024) §3.2: three ways of learning a visual codebook that is the LLM's word-embedding table,
// and the separate-codebook baseline. A paradigm says what the tokenizer quantizes onto, whether the LLM's table stays
// frozen, and what happens before each tokenizer step; the training procedures read only this contract.
using Kit.Quantizers;
using Kit.Tokenizers;
using TorchSharp;

namespace Kit.Language.UnifiedCodebook;

/// <summary>Names a paradigm in cache keys (its number and its name are both part of stored keys).</summary>
public enum CodebookParadigmKind { Frozen, DualAlternating, LanguageDriven, Separate }

/// <summary>What a tokenizer does around its steps: before each one, the adversarial weight's scale, and at the end.</summary>
/// <param name="BeforeStep">Runs before tokenizer step s (1-based).</param>
/// <param name="AdversarialScale">Multiplies the adversarial weight at step s; null: 1.</param>
/// <param name="Finish">Runs once training ends.</param>
public sealed record TokenizerHooks(Action<int>? BeforeStep = null, Func<int, double>? AdversarialScale = null, Action? Finish = null)
{
    /// <summary>No hooks.</summary>
    public static readonly TokenizerHooks None = new();
}

/// <summary>How the unified codebook is learned.</summary>
public interface ICodebookParadigm
{
    /// <summary>The paradigm in cache keys.</summary>
    CodebookParadigmKind Kind { get; }

    /// <summary>Its name in tables.</summary>
    string Name { get; }

    /// <summary>True when code k is a word of the text (the shared layout); false for a codebook behind the text ids.</summary>
    bool SharesRows { get; }

    /// <summary>True when the LLM's word-embedding table stays frozen while the LLM trains.</summary>
    bool FreezesTable { get; }

    /// <summary>True when the tokenizer and the LLM train in one interleaved loop instead of one after the other.</summary>
    bool TrainsJointly { get; }

    /// <summary>
    /// The tokenizer's quantizer over <paramref name="rows"/> (the LLM's code rows C_L, read when asked);
    /// <paramref name="recipe"/> is the kit's VQ recipe (its own codebook's size, dead-code threshold).
    /// </summary>
    Quantizer Quantizer(int dim, Func<torch.Tensor> rows, QuantizerSpec recipe);

    /// <summary>The hooks of <paramref name="tokenizer"/>'s training, whose pull ramps over <paramref name="rampSteps"/>.</summary>
    TokenizerHooks Hooks(ImageTokenizer tokenizer, int rampSteps) => TokenizerHooks.None;
}

/// <summary>What every paradigm states about itself, given once at construction.</summary>
public abstract class CodebookParadigmBase(CodebookParadigmKind kind, string name, bool sharesRows, bool freezesTable, bool trainsJointly)
    : ICodebookParadigm
{
    /// <inheritdoc/>
    public CodebookParadigmKind Kind => kind;
    /// <inheritdoc/>
    public string Name => name;
    /// <inheritdoc/>
    public bool SharesRows => sharesRows;
    /// <inheritdoc/>
    public bool FreezesTable => freezesTable;
    /// <inheritdoc/>
    public bool TrainsJointly => trainsJointly;

    /// <inheritdoc/>
    public abstract Quantizer Quantizer(int dim, Func<torch.Tensor> rows, QuantizerSpec recipe);

    /// <inheritdoc/>
    public virtual TokenizerHooks Hooks(ImageTokenizer tokenizer, int rampSteps) => TokenizerHooks.None;
}

/// <summary>The paradigms of notebook 05.</summary>
public static class CodebookParadigm
{
    /// <summary>The tokenizer quantizes onto the frozen rows; the LLM's table stays frozen too.</summary>
    public static readonly ICodebookParadigm Frozen = new FrozenParadigm();

    /// <summary>Tokenizer and LLM phases alternate, each starting from the other's codebook.</summary>
    public static readonly ICodebookParadigm DualAlternating = new DualAlternatingParadigm();

    /// <summary>An EMA codebook pulled onto the rows, C_t = (1 − r)·Ê + r·C_L; the LLM's table stays frozen.</summary>
    public static readonly ICodebookParadigm LanguageDriven = new LanguageDrivenParadigm();

    /// <summary>The baseline: a codebook of its own behind the text ids; the LLM trains its whole table.</summary>
    public static readonly ICodebookParadigm Separate = new SeparateCodebookParadigm();

    /// <summary>All four, in the notebook's order.</summary>
    public static IReadOnlyList<ICodebookParadigm> All => new[] { Frozen, DualAlternating, LanguageDriven, Separate };
}
