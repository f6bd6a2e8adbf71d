// Visual tokens of any number per image and visual codes that are text ids: the two things LaVIT and UniCode need of
// the unified vocabulary, sequences, model and decoder.
using Kit.Core;
using Kit.Data;
using Kit.Language;
using Kit.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Tests;

public sealed class UnifiedLayoutTests
{
    static readonly string[] Corpus = { "a large red circle", "a small blue square left of a large green star", "what colour is the star? green" };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ThePromptsAreTheTrainingRowsCutBeforeWhatTheModelMustSay(int depth)
    {
        var v = new UnifiedVocabulary(TextTokenizer.Fit(Corpus), 16);
        var scenes = new ShapesDataset(1, Split.Train).Batch(0, 1).Scenes!;
        var codes = new long[] { 1, 5, 9, 2 };
        var sequences = new UnifiedSequences(v, new VisualCorpus(scenes, VisualCodes.FromRows(new[] { codes })) { Depth = depth }, Corpus, SequenceMix.Standard());
        TokenSequence Prefix(TokenSequence row, SpecialToken until)
        {
            int end = Array.IndexOf(row.Ids, v[until]) + 1;
            return new TokenSequence(row.Ids[..end], row.Compressed[..end]);
        }
        var captioning = sequences.Build(SequenceTasks.ImageToText, 0, KitRandom.For(0, 0));
        var prompt = sequences.Layout.CaptionPrompt(codes, depth);
        Assert.Equal(Prefix(captioning, SpecialToken.Caption).Ids, prompt.Ids);
        Assert.Equal(Prefix(captioning, SpecialToken.Caption).Compressed, prompt.Compressed);
        var vqa = sequences.Build(SequenceTasks.Vqa, 0, KitRandom.For(0, 0));
        var question = v.DecodeText(vqa.Ids.SkipWhile(id => id != v[SpecialToken.Question]).Skip(1).TakeWhile(id => id != v[SpecialToken.Answer]).ToArray());
        Assert.Equal(Prefix(vqa, SpecialToken.Answer).Ids, sequences.Layout.QuestionPrompt(codes, question, depth).Ids);
        // Compressed positions: one per D codes when D > 1, none at D = 1; their ids are padding, never a negative id.
        Assert.Equal(depth == 1 ? 0 : codes.Length / depth, prompt.Compressed.Count(p => p >= 0));
        Assert.All(prompt.Ids, id => Assert.InRange(id, 0, v.Count - 1));
    }

    [Fact]
    public void ARaggedBatchBuildsPacksTrainsAndGeneratesWithinItsBounds()
    {
        using var scope = NewDisposeScope();
        var v = new UnifiedVocabulary(TextTokenizer.Fit(Corpus), 16);
        var scenes = new ShapesDataset(3, Split.Train).Batch(0, 3).Scenes!;
        var rows = new[] { new long[] { 1, 2, 3 }, Enumerable.Range(0, 7).Select(i => (long)i).ToArray(), Enumerable.Range(3, 12).Select(i => (long)(i % 16)).ToArray() };
        var codes = VisualCodes.FromRows(rows);
        Assert.Equal(new long[] { 3, 7, 12 }, codes.Lengths);
        var sequences = new UnifiedSequences(v, new VisualCorpus(scenes, codes), Array.Empty<string>(), SequenceMix.Standard(1, 1, 0, 0, 0));
        var built = Enumerable.Range(0, 3).Select(i => sequences.Build(SequenceTasks.TextToImage, i, KitRandom.For(0, i))).ToList();
        for (int i = 0; i < 3; i++)
        {
            int open = Array.IndexOf(built[i].Ids, v[SpecialToken.Img]), close = Array.IndexOf(built[i].Ids, v[SpecialToken.EndImg]);
            Assert.Equal(rows[i].Select(c => v.CodeId(c)).ToArray(), built[i].Ids[(open + 1)..close]);
        }
        using var batch = sequences.Pack(built, new long[] { 0, 1, 2 }, Enumerable.Repeat(SequenceTasks.TextToImage, 3).ToArray());
        // The visual targets are exactly each image's codes: 3 + 7 + 12.
        Assert.Equal(22, batch.VisualTarget.sum().item<long>());
        Seeding.SeedEverything(4);
        var model = new UnifiedModel(UnifiedModelConfig.For(v, new GptConfig(v.Count, ContextLength: 48, Layers: 1, Heads: 2, Dim: 32, VisualCodesFrom: v.CodeOffset), imagePositions: 12));
        var optimizer = optim.AdamW(model.parameters(), 1e-2);
        float before = model.Loss(batch).Total.item<float>();
        for (int step = 0; step < 5; step++)
            Scopes.Run(() => { var l = model.Loss(batch).Total; optimizer.zero_grad(); l.backward(); optimizer.step(); });
        Assert.True(model.Loss(batch).Total.item<float>() < before, "a few steps on one batch lower its loss");
        // Generation between 3 and 12 codes per image: every block well formed and within the bounds.
        var prompts = Enumerable.Range(0, 8).Select(i => sequences.Layout.TextToImagePrompt(scenes[i % 3].Caption(0)).Ids).ToList();
        var constraint = new DecodingConstraint(v, prompts.Count, minCodes: 3, maxCodes: 12, stopAfterImage: true, startInsideImage: true);
        var generated = Generation.Generate(model, prompts, 13, new SamplingOptions(Temperature: 2, Seed: 3), constraint);
        foreach (var row in generated)
        {
            int close = Array.IndexOf(row, v[SpecialToken.EndImg]);
            Assert.True(close >= 3 && close <= 12, $"an image of {close} codes (bounds 3–12)");
            Assert.All(row[..close], id => Assert.Equal(TokenKind.VisualCode, v.KindOf(id)));
            Assert.Equal(close + 1, row.Length);
        }
        Assert.True(generated.Select(r => r.Length).Distinct().Count() > 1, "temperature 2 should give images of different lengths");
    }

    [Fact]
    public void BothLayoutsRoundTripEveryId()
    {
        var text = TextTokenizer.Fit(Corpus);
        var offset = new UnifiedVocabulary(text, 8);
        var shared = UnifiedVocabulary.SharedWithText(text, new[] { 5, 1, 9, 2 });
        foreach (var v in new[] { offset, shared })
        {
            for (int id = 0; id < v.Count; id++)
            {
                switch (v.KindOf(id))
                {
                    case TokenKind.Special: Assert.Equal(id, v[v.SpecialOf(id)]); break;
                    case TokenKind.VisualCode: Assert.Equal(id, v.CodeId(v.CodeOf(id))); break;
                    default: if (id != TextTokenizer.Unknown) Assert.Equal(new[] { id }, v.EncodeText(v.Text.TokenText(id))); break;
                }
            }
            for (int k = 0; k < v.CodebookSize; k++) Assert.Equal(k, v.CodeOf(v.CodeId(k)));
        }
        Assert.Equal(text.Count + 8 + 8, offset.Count);
        Assert.Equal(text.Count + 8, shared.Count);       // no ids of their own: the codes are text ids
        // In the shared layout an id is a word outside an image block and a code inside.
        Assert.Equal(TokenKind.Text, shared.KindOf(9));
        Assert.Equal(2, shared.CodeOf(9));
        Assert.Equal("visual code 2", shared.Describe(9, insideImage: true));
        Assert.StartsWith("text ", shared.Describe(9));
        Assert.Throws<ArgumentException>(() => shared.CodeOf(3));
        Assert.Throws<ArgumentException>(() => UnifiedVocabulary.SharedWithText(text, new[] { 1, 1 }));
    }

    [Fact]
    public void VisualPositionsComeFromTheSpansNotTheIds()
    {
        var text = TextTokenizer.Fit(Corpus);
        var v = UnifiedVocabulary.SharedWithText(text, new[] { 5, 6, 7 });
        int img = v[SpecialToken.Img], end = v[SpecialToken.EndImg];
        // The same ids 5 and 6 as words (outside) and as codes (inside).
        var tokens = tensor(new long[] { v[SpecialToken.Bos], 5, 6, img, 5, 6, 7, end, 6, img, 7 }).unsqueeze(0);
        var expected = new[] { false, false, false, false, true, true, true, false, false, false, true };
        Assert.Equal(expected, v.VisualMask(tokens)[0].data<bool>().ToArray());
        Assert.Equal(expected, UnifiedSequences.InsideImage(tokens[0].data<long>().Select(x => (int)x).ToArray(), img, end));
        Assert.Equal(new long[] { 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0 }, UnifiedVocabulary.PlaceInImage(v.VisualMask(tokens))[0].data<long>().ToArray());
    }

    [Fact]
    public void SharedLayoutNormalisesAVisualTargetOverTheCodeRowsAlone()
    {
        using var scope = NewDisposeScope();
        var text = TextTokenizer.Fit(Corpus);
        var codeIds = new[] { 5, 1, 9, 2 };
        var v = UnifiedVocabulary.SharedWithText(text, codeIds);
        Seeding.SeedEverything(8);
        var gpt = new Gpt(new GptConfig(v.Count, ContextLength: 16, Layers: 1, Heads: 2, Dim: 16, SharedCodeIds: codeIds));
        var hidden = gpt.Hidden(gpt.Embed(randint(v.Count, new long[] { 1, 3 })));
        var targets = tensor(new long[] { 9, 9, 3 }).unsqueeze(0);          // id 9 as a code, then as a word; 3 a word
        var visual = tensor(new[] { true, false, false }).unsqueeze(0);
        var losses = gpt.Head.TokenLosses(hidden, targets, null, visual)[0];
        var logits = F.linear(hidden[0], gpt.TokenEmbeddings);             // tied head
        var overCodes = logits[0].index_select(0, tensor(codeIds.Select(i => (long)i).ToArray())).log_softmax(0);
        Assert.Equal(-overCodes[2].item<float>(), losses[0].item<float>(), 4);                 // code 2 among the four rows
        Assert.Equal(-logits[1].log_softmax(0)[9].item<float>(), losses[1].item<float>(), 4);  // the word 9 among every id
        Assert.Equal(-logits[2].log_softmax(0)[3].item<float>(), losses[2].item<float>(), 4);
        Assert.Throws<ArgumentException>(() => gpt.Head.TokenLosses(hidden, targets));         // a code's id is also a word's
    }
}
