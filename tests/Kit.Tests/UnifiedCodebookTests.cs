// UniCode's unified codebook: the language-driven table against its formula, the row rule against a naive sort, the
// unequal-phase schedule, decompression rows and their weights, and which tables each paradigm's training writes.
using Kit.Core;
using Kit.Experiments;
using Kit.Language;
using Kit.Language.UnifiedCodebook;
using Kit.Quantizers;
using Kit.Tokenizers;
using Kit.Training;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed class UnifiedCodebookTests
{
    static Tensor Rows(int k, int d, int seed) { var g = new Generator((ulong)seed); return randn(new long[] { k, d }, generator: g); }

    [Fact]
    public void LanguageDrivenTableIsTheEmaAtZeroTheRowsAtOneAndTheMixInBetween()
    {
        var language = Rows(8, 4, 1);
        var codebook = new LanguageDrivenCodebook(() => language, needsInit: false);
        var visual = Rows(8, 4, 2);
        codebook.Initialise(visual);
        codebook.Ratio = 0;
        Assert.True(codebook.Codes().eq(visual).all().item<bool>()); // exactly Ê
        codebook.Ratio = 1;
        Assert.True(codebook.Codes().eq(language).all().item<bool>()); // exactly C_L
        codebook.Ratio = 0.25;
        // By hand, element by element: 0.75·Ê + 0.25·C_L.
        var e = visual.data<float>().ToArray(); var l = language.data<float>().ToArray(); var c = codebook.Codes().data<float>().ToArray();
        for (int i = 0; i < c.Length; i++) Assert.Equal(0.75f * e[i] + 0.25f * l[i], c[i], 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => codebook.Ratio = 1.5);
        Assert.Equal(0.5, LanguageDrivenCodebook.RatioAt(5, 10));
        Assert.Equal(1.0, LanguageDrivenCodebook.RatioAt(15, 10)); // the tail holds r at 1
        // The adversarial weight's factor, 1 − 0.9 r: full at r = 0, a tenth at r = 1, 0.55 halfway.
        Assert.Equal(1.0, LanguageDrivenCodebook.AdversarialScale(0), 12);
        Assert.Equal(0.1, LanguageDrivenCodebook.AdversarialScale(1), 12);
        Assert.Equal(0.55, LanguageDrivenCodebook.AdversarialScale(0.5), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => LanguageDrivenCodebook.AdversarialScale(1.2));
    }

    [Fact]
    public void EmaMovesTheVisualCodesAndNeverTheLanguageRows()
    {
        var language = Rows(4, 3, 3);
        var before = language.clone();
        var codebook = new LanguageDrivenCodebook(() => language, decay: 0.5, needsInit: false);
        codebook.Initialise(zeros(4, 3));
        codebook.Ratio = 0.5;
        var quantizer = new VectorQuantizer(3, codebook);
        quantizer.train();
        quantizer.call(Rows(32, 3, 4).reshape(32, 3, 1, 1));
        Assert.True(language.eq(before).all().item<bool>());
        Assert.False(codebook.Visual.eq(zeros(4, 3)).all().item<bool>());
    }

    [Fact]
    public void RowRuleTakesTheSmallestNormsAboveTheMedianLikeANaiveSort()
    {
        // Norms 1 … 10 in a shuffled order: the median is 5.5, so the three smallest at or above it are 6, 7, 8.
        var norms = new[] { 7f, 2f, 10f, 6f, 1f, 9f, 3f, 8f, 5f, 4f };
        var table = zeros(norms.Length + 2, 2);
        for (int i = 0; i < norms.Length; i++) table[i, 0] = tensor(norms[i]);
        table[norms.Length, 0] = tensor(6.5f); // a special token's row: never a candidate
        var rows = CodebookRows.Pick(table, norms.Length, 3);
        Assert.Equal(5.5, rows.MedianNorm, 5);
        Assert.Equal(new[] { 3, 0, 7 }, rows.Ids); // norms 6, 7, 8
        Assert.Equal(new[] { 2, 5, 7 }, CodebookRows.Pick(table, norms.Length, 3, CodebookRowRule.LargestNorm).Ids);
        // More rows than pass the threshold: it drops so that enough do.
        Assert.Equal(8, CodebookRows.Pick(table, norms.Length, 8).Ids.Length);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => CodebookRows.Pick(table, norms.Length, 11));
        Assert.Equal("count", error.ParamName);
    }

    [Theory]
    [InlineData(256, 2885, 256)] // WordNet installed: the asked size
    [InlineData(256, 51, 32)]    // the synthetic text alone: the largest power of two its ids hold
    [InlineData(32, 32, 32)]
    [InlineData(256, 255, 128)]
    [InlineData(256, 2, 2)]
    public void TheCodebookSizeIsBoundedByTheTextRowsAvailable(int asked, int textRows, int expected) =>
        Assert.Equal(expected, CodebookRows.FitCount(asked, textRows));

    [Fact]
    public void ATextTooSmallForAnyCodebookIsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CodebookRows.FitCount(256, 1));

    [Fact]
    public void CycleScheduleRunsUnequalPhasesInTurn()
    {
        var schedule = StepSchedules.Cycle(("tokenizer", 2), ("llm", 3));
        var groups = Enumerable.Range(1, 10).Select(s => schedule(s).Single()).ToArray();
        Assert.Equal(new[] { "tokenizer", "tokenizer", "llm", "llm", "llm", "tokenizer", "tokenizer", "llm", "llm", "llm" }, groups);
        Assert.Throws<ArgumentOutOfRangeException>(() => StepSchedules.Cycle(("tokenizer", 0)));
    }

    [Fact]
    public void DualScheduleGivesEachPhaseItsShareAndTheTokenizerGoesFirst()
    {
        var schedule = new DualSchedule(Phases: 2, TokenizerSteps: 5, LlmSteps: 7); // 2 + 3 per cycle; the remainders are dropped
        Assert.Equal(10, schedule.Total);
        var turns = Enumerable.Range(1, schedule.Total).Select(schedule.TokenizerTurn).ToArray();
        Assert.Equal(new[] { true, true, false, false, false, true, true, false, false, false }, turns);
        // The trainer's cycle schedule and the loop's turn agree step for step.
        var cycle = StepSchedules.Cycle(("tokenizer", schedule.TokenizerPhase), ("llm", schedule.LlmPhase));
        Assert.All(Enumerable.Range(1, schedule.Total), s => Assert.Equal(schedule.TokenizerTurn(s), cycle(s).Single() == "tokenizer"));
        // No cycles, or a phase without a step, is refused by name.
        Assert.Equal("Phases", Assert.Throws<ArgumentOutOfRangeException>(() => new DualSchedule(0, 5, 7)).ParamName);
        Assert.Equal("Phases", Assert.Throws<ArgumentOutOfRangeException>(() => new DualSchedule(6, 5, 7)).ParamName);
    }

    [Fact]
    public void DriftIsTheMeanRowCosineAndTheTableMovementWorkedByHand()
    {
        // Rows (1, 0) and (0, 1) against (1, 1) and (0, −2): cosines 1/√2 and −1, mean (1/√2 − 1) / 2.
        var lookup = tensor(new float[] { 1, 0, 0, 1 }).reshape(2, 2);
        var table = tensor(new float[] { 1, 1, 0, -2 }).reshape(2, 2);
        var start = tensor(new float[] { 1, 1, 0, -1 }).reshape(2, 2);
        var (agreement, movement) = CodebookDrift.Measure(lookup, table, start);
        Assert.Equal((1 / Math.Sqrt(2) - 1) / 2, agreement, 6);
        Assert.Equal(1 / Math.Sqrt(3), movement, 6); // ‖(0, 0, 0, −1)‖ / ‖(1, 1, 0, −1)‖
        Assert.Equal(new[] { 1, 5, 10 }, CodebookDrift.Steps(10, 3));
        Assert.Equal(new[] { 1, 2 }, CodebookDrift.Steps(2, 5)); // never more points than steps
    }

    [Fact]
    public void DriftRecorderTakesOnlyItsStepsAndItsRecordReadsBackExactly()
    {
        var start = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        var recorder = new DriftRecorder(new[] { 2, 4 }, start);
        int reads = 0;
        for (int step = 1; step <= 5; step++)
            recorder.Observe(step, () => { reads++; return start * step; }, () => start + 0.1f * step);
        Assert.Equal(new[] { 2, 4 }, recorder.Points.Select(p => p.Step));
        Assert.Equal(2, reads); // the lookup is read only at the recorded steps
        Assert.Equal(recorder.Points, DriftRecorder.Read(recorder.ToRecords()));
        Assert.Empty(DriftRecorder.Read(new Dictionary<string, string>()));
    }

    [Fact]
    public void ParadigmsSayWhatTheyShareFreezeAndQuantizeOnto()
    {
        var rows = randn(8, 4);
        var recipe = new QuantizerSpec(QuantizerKind.Vq, CodebookSize: 16);
        Assert.Equal(new[] { "frozen", "dual alternating", "language-driven iterative", "separate codebook" }, CodebookParadigm.All.Select(p => p.Name));
        Assert.Equal(new[] { true, false, true, false }, CodebookParadigm.All.Select(p => p.FreezesTable));
        Assert.Equal(new[] { true, true, true, false }, CodebookParadigm.All.Select(p => p.SharesRows));
        Assert.Equal(new[] { false, true, false, false }, CodebookParadigm.All.Select(p => p.TrainsJointly));
        // The kinds keep the numbers the cache keys were made with.
        Assert.Equal(new[] { 0, 1, 2, 3 }, CodebookParadigm.All.Select(p => (int)p.Kind));
        Assert.Equal(8, CodebookParadigm.Frozen.Quantizer(4, () => rows, recipe).CodebookSize);
        Assert.True(CodebookParadigm.Frozen.Quantizer(4, () => rows, recipe).Codebook!.Codes().allclose(rows));
        Assert.Equal(16, CodebookParadigm.Separate.Quantizer(4, () => rows, recipe).CodebookSize);
        Assert.IsType<LanguageDrivenCodebook>(CodebookParadigm.LanguageDriven.Quantizer(4, () => rows, recipe).Codebook);
    }

    [Fact]
    public void TheLanguageDrivenHooksRampThePullThenEndOnTheRows()
    {
        var rows = randn(8, 4);
        var paradigm = CodebookParadigm.LanguageDriven;
        var recipe = new QuantizerSpec(QuantizerKind.Vq, CodebookSize: 8);
        using var tokenizer = new ImageTokenizer(new TokenizerConfig(LatentDim: 4), paradigm.Quantizer(4, () => rows, recipe), 16);
        var pulled = (LanguageDrivenCodebook)tokenizer.Quantizer.Codebook!;
        var hooks = paradigm.Hooks(tokenizer, rampSteps: 4);
        hooks.BeforeStep!(2);
        Assert.Equal(0.5, pulled.Ratio, 9);
        Assert.Equal(LanguageDrivenCodebook.AdversarialScale(0.5), hooks.AdversarialScale!(2), 9);
        hooks.Finish!();
        Assert.Equal(1, pulled.Ratio);
        Assert.Same(TokenizerHooks.None, CodebookParadigm.Frozen.Hooks(tokenizer, 4));
    }

    [Fact]
    public void DecompressionRowGivesTheImageThenAsksForItAgain()
    {
        var text = TextTokenizer.Fit(new[] { "a red square", "a blue circle" });
        var v = new UnifiedVocabulary(text, 4);
        var codes = VisualCodes.FromRows(new[] { new long[] { 1, 2, 3 } });
        var corpus = new VisualCorpus(new[] { new Kit.Data.ShapesScene(Array.Empty<Kit.Data.ShapeObject>()) }, codes);
        var s = new UnifiedSequences(v, corpus, new[] { "a red square" }, SequenceMix.Standard().With(DecompressionTask.Instance, 1));
        var row = s.Build(DecompressionTask.Instance, 0, KitRandom.For(0, 0));
        int img = v[SpecialToken.Img], end = v[SpecialToken.EndImg];
        var block = new[] { img, v.CodeId(1), v.CodeId(2), v.CodeId(3), end };
        Assert.Equal(new[] { v[SpecialToken.Bos] }.Concat(block).Concat(block).Append(v[SpecialToken.Eos]).ToArray(), row.Ids);
        Assert.All(row.Compressed, p => Assert.Equal(-1, p)); // D = 1: the given block is the codes themselves
        using var batch = s.Pack(new[] { row }, new[] { 0L }, new SequenceTask[] { DecompressionTask.Instance }, imageLossWeight: 0.5, givenImageLossWeight: 0);
        // Targets are row[1..]: [IMG] c c c [/IMG] [IMG] c c c [/IMG] [EOS]. The first block's codes weigh as given (0),
        // the second's as asked (0.5), every other target 1.
        Assert.Equal(new[] { 1f, 0f, 0f, 0f, 1f, 1f, 0.5f, 0.5f, 0.5f, 1f, 1f }, batch.Weights.data<float>().ToArray());
    }

    [Fact]
    public void StackedDecompressionGivesOnePositionPerTwoCodesAndAsksForEveryCode()
    {
        var text = TextTokenizer.Fit(new[] { "a red square", "a blue circle" });
        var v = new UnifiedVocabulary(text, 6);
        // Two positions of D = 2 codes each, layers innermost: position 0 holds codes 1, 4; position 1 holds 5, 2.
        var codes = VisualCodes.FromRows(new[] { new long[] { 1, 4, 5, 2 } });
        var corpus = new VisualCorpus(new Kit.Data.ShapesDataset(1).Batch(0, 1).Scenes!, codes) { Depth = 2 };
        var s = new UnifiedSequences(v, corpus, new[] { "a red square" }, SequenceMix.Standard().With(DecompressionTask.Instance, 1));
        var row = s.Build(DecompressionTask.Instance, 0, KitRandom.For(0, 0));
        int img = v[SpecialToken.Img], end = v[SpecialToken.EndImg], pad = v[SpecialToken.Pad];
        // The given block is two compressed positions: the padding id, each marked with its position (0, 1) beside the ids.
        int[] expected = { v[SpecialToken.Bos], img, pad, pad, end, img, v.CodeId(1), v.CodeId(4), v.CodeId(5), v.CodeId(2), end, v[SpecialToken.Eos] };
        Assert.Equal(expected, row.Ids);
        Assert.Equal(new[] { -1, -1, 0, 1, -1, -1, -1, -1, -1, -1, -1, -1 }, row.Compressed);
        using var batch = s.Pack(new[] { row }, new[] { 0L }, new SequenceTask[] { DecompressionTask.Instance }, imageLossWeight: 0.5, givenImageLossWeight: 1);
        // Inputs: the compressed positions hold the padding id; their two codes go to Stacks, −1 everywhere else.
        Assert.Equal(new long[] { v[SpecialToken.Bos], img, pad, pad, end, img, v.CodeId(1), v.CodeId(4), v.CodeId(5), v.CodeId(2), end }, batch.Tokens.data<long>().ToArray());
        var stacks = batch.Stacks!.data<long>().ToArray();
        Assert.Equal(new long[] { -1, -1, -1, -1, v.CodeId(1), v.CodeId(4), v.CodeId(5), v.CodeId(2) }, stacks.Take(8).ToArray());
        Assert.All(stacks.Skip(8), id => Assert.Equal(-1, id));
        // A compressed position is never a target (even with a given-image weight of 1); the four asked codes weigh 0.5.
        // Targets: [IMG] ∙ ∙ [/IMG] [IMG] c c c c [/IMG] [EOS].
        Assert.Equal(new[] { 1f, 0f, 0f, 1f, 1f, 0.5f, 0.5f, 0.5f, 0.5f, 1f, 1f }, batch.Weights.data<float>().ToArray());
        // Captioning gives the image compressed too; text → image asks for all four codes.
        var caption = s.Build(SequenceTasks.ImageToText, 0, KitRandom.For(0, 1));
        Assert.Equal(new[] { v[SpecialToken.Bos], img, pad, pad, end, v[SpecialToken.Caption] }, caption.Ids.Take(6).ToArray());
        Assert.Equal(new[] { -1, -1, 0, 1, -1, -1 }, caption.Compressed.Take(6).ToArray());
        var drawn = s.Build(SequenceTasks.TextToImage, 0, KitRandom.For(0, 2));
        Assert.Equal(new[] { img, v.CodeId(1), v.CodeId(4), v.CodeId(5), v.CodeId(2), end }, drawn.Ids.SkipWhile(id => id != img).Take(6).ToArray());
        // Codes that do not fill whole positions are refused.
        var odd = new VisualCorpus(corpus.Items, VisualCodes.FromRows(new[] { new long[] { 1, 2, 3 } })) { Depth = 2 };
        Assert.Throws<ArgumentException>(() => new UnifiedSequences(v, odd, new[] { "a red square" }, SequenceMix.Standard()));
    }

    [Theory]
    [InlineData(StackAggregation.CumulativeSum)]
    [InlineData(StackAggregation.Concat)]
    public void ACompressedPositionReadsTheSumOrTheMappedJoinOfItsCodesRows(StackAggregation aggregation)
    {
        manual_seed(5);
        var gpt = new GptConfig(VocabSize: 10, ContextLength: 8, Layers: 1, Heads: 2, Dim: 4);
        using var model = new UnifiedModel(new UnifiedModelConfig(gpt, ImageOpen: 8, ImageClose: 9, Stack: new CodeStack(2, aggregation)));
        var tokens = tensor(new long[] { 1, 8, 0, 9 }).reshape(1, 4);
        var stacks = tensor(new long[] { -1, -1, -1, -1, 3, 6, -1, -1 }).reshape(1, 4, 2); // position 2: codes with ids 3 and 6
        var visual = tensor(new[] { false, false, true, false }).reshape(1, 4);
        Tensor inputs;
        using (no_grad()) inputs = model.Inputs(tokens, visual, null, stacks: stacks);
        var table = model.Gpt.TokenEmbeddings.detach();
        float[] Row(int id) => table[id].data<float>().ToArray();
        float[] expected;
        if (aggregation == StackAggregation.CumulativeSum) expected = Row(3).Zip(Row(6), (a, b) => a + b).ToArray();
        else
        {
            // W · [e3; e6] + b, by hand from the map's weights.
            var w = model.named_parameters().Single(p => p.name == "stack_in.weight").parameter.detach().data<float>().ToArray();
            var bias = model.named_parameters().Single(p => p.name == "stack_in.bias").parameter.detach().data<float>().ToArray();
            var joined = Row(3).Concat(Row(6)).ToArray();
            expected = Enumerable.Range(0, 4).Select(o => bias[o] + Enumerable.Range(0, 8).Sum(i => w[o * 8 + i] * joined[i])).ToArray();
        }
        var got = inputs[0, 2].data<float>().ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], got[i], 5);
        Assert.Equal(Row(1), inputs[0, 0].data<float>().ToArray()); // other positions: their token's row
        Assert.Throws<ArgumentException>(() => model.Inputs(tokens, visual, null, stacks: stacks.narrow(2, 0, 1)));
        Assert.Throws<ArgumentException>(() => new UnifiedModelConfig(gpt, Visual: VisualInterface.Regression, FeatureDim: 4, Stack: new CodeStack(2, aggregation)).Validate());
    }
}
