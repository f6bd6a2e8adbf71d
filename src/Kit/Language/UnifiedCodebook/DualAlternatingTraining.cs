// UniCode §3.2, dual alternating training, as one loop: P cycles of T/P tokenizer steps (reconstruction + commitment +
// codebook loss on the tokenizer's copy of the rows) and U/P LLM steps (every LLM weight, its table included, on
// sequences re-encoded by the tokenizer of that moment). A phase starts from the other side's codebook: the tokenizer
// from the LLM's rows, the LLM from the tokenizer's. Each step is the ordinary loop's step (TokenizerTraining's,
// LanguageTraining's); only the switching lives here.
using Kit.Data;
using Kit.Tokenizers;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Language.UnifiedCodebook;

/// <summary>The dual paradigm's tokenizer and LLM: trained in one loop, so cached as one artifact.</summary>
public sealed class TokenizerAndLlm : nn.Module
{
    readonly ImageTokenizer tokenizer;
    readonly UnifiedModel llm;

    /// <summary>The pair; parameter names are tokenizer.* and llm.*.</summary>
    public TokenizerAndLlm(ImageTokenizer tokenizer, UnifiedModel llm) : base(nameof(TokenizerAndLlm))
    {
        this.tokenizer = tokenizer;
        this.llm = llm;
        RegisterComponents();
    }

    /// <summary>The image tokenizer.</summary>
    public ImageTokenizer Tokenizer => tokenizer;

    /// <summary>The unified LLM.</summary>
    public UnifiedModel Llm => llm;
}

/// <summary>The phases of a dual run.</summary>
/// <param name="Phases">P, the tokenizer/LLM cycles.</param>
/// <param name="TokenizerSteps">T, all tokenizer steps (T/P per phase).</param>
/// <param name="LlmSteps">U, all LLM steps (U/P per phase).</param>
public sealed record DualSchedule(int Phases, int TokenizerSteps, int LlmSteps)
{
    /// <summary>P, checked: at least one cycle, and each phase at least one step of each kind.</summary>
    public int Phases { get; } = Phases >= 1 && TokenizerSteps >= Phases && LlmSteps >= Phases ? Phases
        : throw new ArgumentOutOfRangeException(nameof(Phases), Phases,
            $"expected 1 … {Math.Min(TokenizerSteps, LlmSteps)} cycles for {TokenizerSteps} tokenizer and {LlmSteps} LLM steps (each " +
                $"phase needs a step)");

    /// <summary>Tokenizer steps per phase.</summary>
    public int TokenizerPhase => TokenizerSteps / Phases;

    /// <summary>LLM steps per phase.</summary>
    public int LlmPhase => LlmSteps / Phases;

    /// <summary>Steps of the whole run (the remainders of T/P and U/P are dropped).</summary>
    public int Total => Phases * (TokenizerPhase + LlmPhase);

    /// <summary>Whether step <paramref name="step"/> (1-based) is the tokenizer's.</summary>
    public bool TokenizerTurn(int step) => (step - 1) % (TokenizerPhase + LlmPhase) < TokenizerPhase;
}

/// <summary>The dual alternating loop.</summary>
public static class DualAlternatingTraining
{
    /// <summary>
    /// Trains <paramref name="pair"/> (its LLM already holding the text model's weights) by <paramref name="schedule"/>;
    /// <paramref name="rowIds"/> are the text ids whose rows are the codebook; <paramref name="sequencesOf"/> encodes the
    /// training images with the tokenizer of the moment; <paramref name="drift"/> is observed before every step.
    /// </summary>
    public static TrainingLog Train(TokenizerAndLlm pair, DualSchedule schedule, Tensor rowIds, TokenizerTrainingConfig tokenizerTraining,
        LanguageTrainingConfig llmTraining, Func<ImageTokenizer, UnifiedSequences> sequencesOf, DriftRecorder drift, string label)
    {
        var codebook = pair.Tokenizer.Quantizer.Codebook
            ?? throw new ArgumentException($"the dual paradigm needs a quantizer with one codebook; " +
                $"{pair.Tokenizer.Quantizer.GetType().Name} has none.", nameof(pair));
        var device = pair.parameters().First().device;
        using var images = TokenizerTraining.Images(tokenizerTraining, Split.Train, tokenizerTraining.TrainImages);
        var tokenizerImages = images.Images.to(device);
        var groups = new List<ParameterGroup>
        {
            new("tokenizer", pair.Tokenizer.parameters().ToList(), LearningRate: tokenizerTraining.LearningRate),
            new("llm", pair.Llm.parameters().ToList(), LearningRate: llmTraining.LearningRate, WeightDecay: llmTraining.WeightDecay),
        };
        int total = schedule.Total;
        var trainer = new Trainer(pair, new TrainerOptions(total, llmTraining.LearningRate, WarmupSteps: Math.Min(100, total / 10),
            LogEvery: Math.Max(1, total / 100),
            GradientClip: tokenizerTraining.GradientClip, Label: label), groups,
            StepSchedules.Cycle(("tokenizer", schedule.TokenizerPhase), ("llm", schedule.LlmPhase)));
        UnifiedSequences? sequences = null;
        int tokenizerSteps = 0, llmSteps = 0;
        bool? lastWasTokenizer = null;
        var log = trainer.Run(step =>
        {
            bool tokenizerTurn = schedule.TokenizerTurn(step);
            var table = pair.Llm.Gpt.TokenEmbeddings;
            if (tokenizerTurn != lastWasTokenizer)
            {
                using (no_grad())
                {
                    if (tokenizerTurn) codebook.Codes().copy_(table.index_select(0, rowIds));
                    else table.index_copy_(0, rowIds, codebook.Codes().detach());
                }
                if (!tokenizerTurn)
                {
                    sequences?.Images?.Codes.Dispose();
                    sequences = sequencesOf(pair.Tokenizer);
                    sequences.Images?.Codes.Codes.DetachFromDisposeScope();
                    pair.Tokenizer.train();
                }
                lastWasTokenizer = tokenizerTurn;
            }
            drift.Observe(step, () => codebook.Codes(), () => table.index_select(0, rowIds));
            if (tokenizerTurn)
            {
                var (loss, metrics, _, _) = TokenizerTraining.ReconstructionStep(pair.Tokenizer, tokenizerImages, tokenizerTraining,
                    ++tokenizerSteps);
                return new StepResult(loss, metrics);
            }
            return LanguageTraining.Step(pair.Llm, sequences!, llmTraining, ++llmSteps);
        });
        sequences?.Images?.Codes.Dispose();
        return log;
    }
}
