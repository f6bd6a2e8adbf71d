using Kit.Core;
using Kit.Data;
using Kit.Language;
using Kit.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Tests;

public class LanguageTests
{
    static readonly string[] Corpus = { "a large red circle", "a small blue square left of a large green star", "what colour is the star? green", "is there a cross? no" };

    static UnifiedVocabulary Vocabulary(int codebook = 16) => new(TextTokenizer.Fit(Corpus), codebook);

    // A model over v's ids, which marks v's [IMG] … [/IMG] spans as its visual positions.
    static UnifiedModelConfig ModelOver(UnifiedVocabulary v, GptConfig gpt, VisualInterface visual = VisualInterface.Tokens, int featureDim = 0, int imagePositions = 0) =>
        UnifiedModelConfig.For(v, gpt, visual, featureDim, imagePositions);

    static Gpt TinyGpt(int vocab, bool rope = true, CodeFactorization? factorization = null, int context = 48, int? visualCodesFrom = null)
    {
        Seeding.SeedEverything(3);
        return new Gpt(new GptConfig(vocab, ContextLength: context, Layers: 2, Heads: 2, Dim: 32, Rope: rope, Factorization: factorization, VisualCodesFrom: visualCodesFrom));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ATokenNeverSeesTheFuture(bool rope)
    {
        using var scope = NewDisposeScope();
        var gpt = TinyGpt(50, rope);
        gpt.eval();
        var tokens = randint(50, new long[] { 2, 12 });
        var perturbed = tokens.clone();
        perturbed[TensorIndex.Colon, 8] = (tokens[TensorIndex.Colon, 8] + 1) % 50;
        using var noGrad = no_grad();
        var a = gpt.forward(tokens);
        var b = gpt.forward(perturbed);
        Assert.True(a.narrow(1, 0, 8).allclose(b.narrow(1, 0, 8), rtol: 0, atol: 1e-5), "logits before the change moved");
        Assert.False(a.narrow(1, 8, 1).allclose(b.narrow(1, 8, 1), rtol: 0, atol: 1e-5), "the changed token itself must matter");
    }

    [Fact]
    public void AVisualCorpusOfAnyItemsBuildsItsOwnCaptionsAndQuestions()
    {
        // Not Shapes: two images with a caption and one question-answer pair each, as another dataset would give them.
        var text = new[] { "a cat on a mat", "a dog in a park", "what animal is it? cat", "what animal is it? dog" };
        var v = new UnifiedVocabulary(TextTokenizer.Fit(text), 8);
        var items = new[]
        {
            new VisualItem(_ => "a cat on a mat", () => new[] { new QuestionAnswer("what animal is it?", "cat") }),
            new VisualItem(_ => "a dog in a park", () => new[] { new QuestionAnswer("what animal is it?", "dog") }),
        };
        var corpus = new VisualCorpus(items, VisualCodes.Fixed(tensor(new long[] { 1, 2, 3, 4 }, new long[] { 2, 2 })));
        Assert.True(corpus.HasQuestions);
        var sequences = new UnifiedSequences(v, corpus, Array.Empty<string>(), SequenceMix.Standard(1, 1, 1, 0));
        var vqa = sequences.Build(SequenceTasks.Vqa, 1, new KitRandom(0)).Ids;
        var expected = new[] { v[SpecialToken.Bos], v[SpecialToken.Img], v.CodeId(3), v.CodeId(4), v[SpecialToken.EndImg], v[SpecialToken.Question] }
            .Concat(v.EncodeText("what animal is it?")).Append(v[SpecialToken.Answer]).Concat(v.EncodeText(" dog")).Append(v[SpecialToken.Eos]);
        Assert.Equal(expected, vqa);
        var caption = sequences.Build(SequenceTasks.ImageToText, 0, new KitRandom(0)).Ids;
        Assert.Equal(v.EncodeText("a cat on a mat"), caption.SkipWhile(id => id != v[SpecialToken.Caption]).Skip(1).SkipLast(1));
    }

    [Fact]
    public void AShapeOverAVocabularyIsTheGptOfThatVocabularyWithItsOwnVisualSoftmax()
    {
        var v = new UnifiedVocabulary(TextTokenizer.Fit(new[] { "a red circle", "a blue star" }), 16);
        var gpt = new GptShape(Layers: 2, Heads: 4, Dim: 32, ContextLength: 24).Over(v);
        Assert.Equal(new GptConfig(v.Count, ContextLength: 24, Layers: 2, Heads: 4, Dim: 32, VisualCodesFrom: v.CodeOffset), gpt);
        Assert.Equal(v.TextCount + (v.CodeOffset - v.SpecialOffset) + 16, gpt.VocabSize);   // text, specials, codes
        gpt.Validate();
    }

    [Fact]
    public void LeftPaddingLeavesASequenceUnchanged()
    {
        // A prompt computed alone and the same prompt left-padded in a batch give the same last-position logits.
        using var scope = NewDisposeScope();
        var gpt = TinyGpt(50);
        gpt.eval();
        using var noGrad = no_grad();
        var shortRow = new[] { 3, 7, 9 };
        var longRow = new[] { 1, 2, 4, 8, 16, 32 };
        var alone = gpt.forward(tensor(shortRow.Select(i => (long)i).ToArray()).unsqueeze(0)).select(1, 2);
        var (tokens, mask) = Generation.LeftPad(new[] { shortRow, longRow });
        var batched = gpt.Head.FlatLogits(gpt.Hidden(gpt.Embed(tokens), null, mask)).select(1, 5)[0];
        Assert.True(alone[0].allclose(batched, rtol: 0, atol: 1e-4));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void KvCacheGenerationEqualsFullRecomputation(bool factorized, bool imagePositions)
    {
        using var scope = NewDisposeScope();
        var v = Vocabulary(codebook: 16);
        var config = TinyGpt(v.Count, factorization: factorized ? v.Factorized(new[] { 2, 2 }) : null, visualCodesFrom: imagePositions ? v.CodeOffset : null).Config;
        var gpt = new UnifiedModel(ModelOver(v, config, imagePositions: imagePositions ? 6 : 0));
        var prompts = new[] { new[] { v[SpecialToken.Bos], 1, 2, v[SpecialToken.Img] }, new[] { v[SpecialToken.Bos], 3, v[SpecialToken.Img] } };
        var options = new SamplingOptions(Temperature: 1.0, Seed: 11);
        var cached = Generation.Generate(gpt, prompts, 10, options, new DecodingConstraint(v, 2, 6, 6, startInsideImage: true, stopAfterImage: true), useCache: true);
        var full = Generation.Generate(gpt, prompts, 10, options, new DecodingConstraint(v, 2, 6, 6, startInsideImage: true, stopAfterImage: true), useCache: false);
        Assert.Equal(cached, full);
        Assert.All(cached, row => Assert.Equal(7, row.Length)); // 6 codes + [/IMG]
        // Captioning: the image sits in the (left-padded) prompt, and the text after it is generated.
        var image = new[] { v[SpecialToken.Bos], v[SpecialToken.Img] }.Concat(Enumerable.Range(0, 6).Select(i => v.CodeId(i * 2))).Append(v[SpecialToken.EndImg]).Append(v[SpecialToken.Caption]).ToArray();
        var captionPrompts = new[] { image, new[] { v[SpecialToken.Bos], 5, 7 }.Concat(image.Skip(1)).ToArray(), new[] { v[SpecialToken.Bos], 2 } };
        var captionCached = Generation.Generate(gpt, captionPrompts, 6, options, new DecodingConstraint(v, 3, 6, 6), useCache: true);
        var captionFull = Generation.Generate(gpt, captionPrompts, 6, options, new DecodingConstraint(v, 3, 6, 6), useCache: false);
        Assert.Equal(captionCached, captionFull);
    }

    [Fact]
    public void CaptionedImagesMakeSequencesWithTheirOwnCaption()
    {
        using var scope = NewDisposeScope();
        var v = new UnifiedVocabulary(TextTokenizer.Fit(new[] { "a photo of a sneaker", "a photo of a bag" }), 16);
        var corpus = VisualCorpus.Captioned(new[] { "a photo of a sneaker", "a photo of a bag" }, VisualCodes.Fixed(tensor(new long[] { 1, 2, 3, 4, 5, 6, 7, 8 }, new long[] { 2, 4 })));
        Assert.Equal(2, corpus.Count);
        var sequences = new UnifiedSequences(v, corpus, Array.Empty<string>(), SequenceMix.Standard(1, 1, 0, 0, unconditionalRate: 0));
        int[] Image(params int[] codes) => new[] { v[SpecialToken.Img] }.Concat(codes.Select(c => v.CodeId(c))).Append(v[SpecialToken.EndImg]).ToArray();
        var bag = v.EncodeText("a photo of a bag");
        var expected = new[] { v[SpecialToken.Bos] }.Concat(bag).Concat(Image(5, 6, 7, 8)).Append(v[SpecialToken.Eos]).ToArray();
        Assert.Equal(expected, sequences.Build(SequenceTasks.TextToImage, 1, new KitRandom(1)).Ids);
        expected = new[] { v[SpecialToken.Bos] }.Concat(Image(5, 6, 7, 8)).Append(v[SpecialToken.Caption]).Concat(bag).Append(v[SpecialToken.Eos]).ToArray();
        Assert.Equal(expected, sequences.Build(SequenceTasks.ImageToText, 1, new KitRandom(1)).Ids);
        // Questions come from scenes: a captions-only corpus refuses a mix that asks for VQA.
        var e = Assert.Throws<ArgumentException>(() => new UnifiedSequences(v, corpus, Array.Empty<string>(), SequenceMix.Standard(1, 0, 1, 0)));
        Assert.Contains("Vqa", e.Message);
    }

    [Fact]
    public void ImagePositionsCountEachImageFromZero()
    {
        using var scope = NewDisposeScope();
        var v = Vocabulary(codebook: 16);
        var model = new UnifiedModel(ModelOver(v, TinyGpt(v.Count, visualCodesFrom: v.CodeOffset).Config, imagePositions: 4));
        var marked = tensor(new[] { false, true, true, false, true, true, true, true, false, true }, new long[] { 1, 10 });
        var index = model.ImageIndex(marked).data<long>().ToArray();
        long[] expected = { 0, 1, 0, 1, 2, 3, 0 }; // the marked runs: a 2-code image, a 4-code image, then the next one from 0
        Assert.Equal(expected, Enumerable.Range(0, 10).Where(i => marked[0, i].item<bool>()).Select(i => index[i]).ToArray());
        // Only marked positions move, and two positions at the same place in their images move alike.
        var tokens = randint(v.CodeOffset, new long[] { 1, 10 });
        using var noGrad = no_grad();
        var delta = (model.Inputs(tokens, marked, null) - model.Gpt.Embed(tokens))[0];
        var moved = delta.abs().sum(-1).gt(1e-7).data<bool>().ToArray();
        Assert.Equal(marked[0].data<bool>().ToArray(), moved);
        Assert.True(delta[1].allclose(delta[4]) && delta[2].allclose(delta[5]) && delta[1].allclose(delta[9]) && !delta[1].allclose(delta[2]));
        Assert.Throws<ArgumentException>(() => new UnifiedModelConfig(TinyGpt(v.Count).Config, ImagePositions: 4).Validate());
    }

    [Fact]
    public void CachedLogitsEqualUncachedLogits()
    {
        using var scope = NewDisposeScope();
        var gpt = TinyGpt(40);
        gpt.eval();
        using var noGrad = no_grad();
        var tokens = randint(40, new long[] { 2, 10 });
        var full = gpt.forward(tokens);
        using var cache = new KvCache(gpt.Config.Layers);
        var prefix = gpt.Head.FlatLogits(gpt.Hidden(gpt.Embed(tokens.narrow(1, 0, 6)), cache));
        var steps = Enumerable.Range(6, 4).Select(i => gpt.Head.FlatLogits(gpt.Hidden(gpt.Embed(tokens.narrow(1, i, 1)), cache))).ToList();
        var stitched = cat(new[] { prefix }.Concat(steps).ToArray(), 1);
        Assert.True(full.allclose(stitched, rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void VocabularyRoundTripsEveryId()
    {
        var v = Vocabulary(codebook: 32);
        var seen = new HashSet<string>();
        for (int id = 0; id < v.Count; id++)
        {
            var kind = v.KindOf(id);
            switch (kind)
            {
                case TokenKind.VisualCode: Assert.Equal(id, v.CodeId(v.CodeOf(id))); break;
                case TokenKind.Special: Assert.Equal(id, v[v.SpecialOf(id)]); break;
                default: if (id != TextTokenizer.Unknown) Assert.Equal(new[] { id }, v.EncodeText(v.Text.TokenText(id))); break;
            }
            Assert.True(seen.Add(kind == TokenKind.Text ? $"t{id}" : v.Describe(id)), $"two ids describe as {v.Describe(id)}");
        }
        Assert.Equal(v.TextCount + Enum.GetValues<SpecialToken>().Length + 32, v.Count);
        Assert.Equal("[IMG]", v.Describe(v[SpecialToken.Img]));
        Assert.Equal("visual code 31", v.Describe(v.Count - 1));
        Assert.StartsWith("[unknown]", v.Text.Display(0).Replace("text ", ""));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.KindOf(v.Count));
    }

    [Fact]
    public void TokenizerRemappingRoundTripsTheCorpus()
    {
        var corpus = TextCorpus.Build(new TextCorpusConfig(Scenes: 200, WordNetLines: 300, HeldOutScenes: 20));
        var text = TextTokenizer.Fit(corpus.All);
        foreach (var line in corpus.All)
        {
            var ids = text.Encode(line);
            Assert.DoesNotContain(TextTokenizer.Unknown, ids);
            Assert.Equal(line, text.Decode(ids));
        }
        Assert.True(text.Count < 20_000, $"the remapping kept {text.Count} ids");
        Assert.Contains(TextTokenizer.Unknown, text.Encode("Zyzzyva quixotically"));
        Assert.Throws<ArgumentException>(() => TextTokenizer.Fit(Corpus, "gpt2-nonsense"));
    }


    [Fact]
    public void UnifiedSequencesOfShapesScenesHaveNoUnknownText()
    {
        // Ids are fitted on the corpus; every caption, question and answer of other scenes must still encode to known
        // ids (an answer encoded at the start of a text once became the unknown id: BPE splits "blue" and " blue" apart).
        var corpus = TextCorpus.Build(new TextCorpusConfig(Scenes: 400, WordNetLines: 0, HeldOutScenes: 20));
        var v = new UnifiedVocabulary(TextTokenizer.Fit(corpus.All), 16);
        var scenes = Enumerable.Range(0, 64).Select(i => new ShapesDataset(64, Split.Test, new ShapesOptions(Seed: 5))[i].Scene).ToList();
        var images = new VisualCorpus(scenes, VisualCodes.Fixed(zeros(64, 4, dtype: int64)));
        var sequences = new UnifiedSequences(v, images, corpus.Train, SequenceMix.Standard());
        var rng = KitRandom.For(0, 1);
        foreach (var task in new[] { SequenceTasks.TextToImage, SequenceTasks.ImageToText, SequenceTasks.Vqa })
            for (int i = 0; i < scenes.Count; i++)
            {
                var ids = sequences.Build(task, i, rng).Ids;
                Assert.DoesNotContain(TextTokenizer.Unknown, ids);
            }
        Assert.Equal(" blue", v.DecodeText(v.EncodeText(SequenceLayout.AnswerText("blue"))));
    }
    [Fact]
    public void ConstrainedDecodingAlwaysEmitsWellFormedImageBlocks()
    {
        // An untrained model with a flat distribution would put codes anywhere; the constraint must not let it.
        using var scope = NewDisposeScope();
        var v = Vocabulary(codebook: 16);
        const int codesPerImage = 5;
        var model = new UnifiedModel(ModelOver(v, TinyGpt(v.Count, context: 64).Config));
        var prompts = Enumerable.Range(0, 6).Select(i => new[] { v[SpecialToken.Bos], 1 + i }).ToList();
        var generated = Generation.Generate(model, prompts, 40, new SamplingOptions(Temperature: 3, Seed: 5), new DecodingConstraint(v, prompts.Count, codesPerImage, codesPerImage));
        int blocks = 0;
        foreach (var row in generated)
        {
            for (int i = 0; i < row.Length; i++)
            {
                var kind = v.KindOf(row[i]);
                Assert.False(row[i] == v[SpecialToken.EndImg], "[/IMG] outside a block");
                Assert.False(kind == TokenKind.VisualCode, "a visual code outside a block");
                if (row[i] != v[SpecialToken.Img]) continue;
                int end = i + 1 + codesPerImage;
                if (end >= row.Length) break; // ran out of tokens inside the block
                for (int k = i + 1; k < end; k++) Assert.Equal(TokenKind.VisualCode, v.KindOf(row[k]));
                Assert.Equal(v[SpecialToken.EndImg], row[end]);
                blocks++;
                i = end;
            }
        }
        Assert.True(blocks > 0, "temperature 3 over ~60 ids should open at least one image block in 6 × 40 tokens");
    }

    [Fact]
    public void TopKAndTopPKeepOnlyTheHead()
    {
        var logits = tensor(new float[] { 3, 2, 1, 0, -1 }).unsqueeze(0).repeat(2000, 1);
        var generator = new Generator(1);
        var topK = Sampling.Pick(logits, new SamplingOptions(TopK: 2), generator: generator);
        Assert.True(topK.lt(2).all().item<bool>());
        // softmax([3,2,1,0,-1]) = .636 .234 .086 .032 .012: p = 0.8 keeps {0, 1}; p = 0.9 keeps {0, 1, 2}.
        Assert.True(Sampling.Pick(logits, new SamplingOptions(TopP: 0.8), generator: generator).lt(2).all().item<bool>());
        var nucleus = Sampling.Pick(logits, new SamplingOptions(TopP: 0.9), generator: generator);
        Assert.True(nucleus.lt(3).all().item<bool>() && nucleus.eq(2).any().item<bool>());
        var allowed = tensor(new[] { false, false, false, true, true });
        Assert.True(Sampling.Pick(logits, new SamplingOptions(Greedy: true), allowed).eq(3).all().item<bool>());
        Assert.Throws<ArgumentException>(() => new SamplingOptions(TopP: 0).Validate());
    }

    [Fact]
    public void FactorizedLogProbabilitiesSumToOne()
    {
        using var scope = NewDisposeScope();
        var v = Vocabulary(codebook: 64);
        var gpt = TinyGpt(v.Count, factorization: v.Factorized(new[] { 2, 4 }));
        using var noGrad = no_grad();
        var logProbabilities = gpt.forward(randint(v.Count, new long[] { 2, 5 }));
        Assert.Equal(v.Count, logProbabilities.shape[2]);
        Assert.True(logProbabilities.exp().sum(-1).allclose(ones(2, 5), rtol: 0, atol: 1e-4));
        // Loss of a code = −log p(code class) − Σ log p(sub-index): the flat log-probability of that id.
        var hidden = gpt.Hidden(gpt.Embed(randint(v.Count, new long[] { 1, 3 })));
        var targets = tensor(new long[] { v.CodeOffset + 37, 2, v.CodeOffset }).unsqueeze(0);
        var expected = -gpt.Head.FlatLogits(hidden).gather(2, targets.unsqueeze(-1)).squeeze(-1);
        Assert.True(gpt.Head.TokenLosses(hidden, targets).allclose(expected, rtol: 0, atol: 1e-4));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void PerModalitySoftmaxMatchesAHandComputedOne(bool factorized, bool flatTied)
    {
        using var scope = NewDisposeScope();
        var v = Vocabulary(codebook: 16);
        Seeding.SeedEverything(5);
        var gpt = new Gpt(new GptConfig(v.Count, ContextLength: 16, Layers: 1, Heads: 2, Dim: 8, TieEmbeddings: flatTied,
            Factorization: factorized ? v.Factorized(new[] { 1, 3 }) : null, VisualCodesFrom: v.CodeOffset));
        using var noGrad = no_grad();
        var hidden = gpt.Hidden(gpt.Embed(randint(v.Count, new long[] { 1, 4 })));
        int[] wanted = { 2, v.CodeOffset + 13, v[SpecialToken.EndImg], v.CodeOffset };
        var losses = gpt.Head.TokenLosses(hidden, tensor(wanted.Select(i => (long)i).ToArray()).unsqueeze(0)).data<float>().ToArray();
        var parts = gpt.Head.Parts(hidden).Select(p => p[0].data<float>().ToArray()).ToArray(); // each [4 × width], row-major
        // −log softmax of logits[from … to) at the target, from the raw logits with a plain loop.
        static double NegLog(float[] logits, int row, int width, int from, int to, int target)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int k = from; k < to; k++) max = Math.Max(max, logits[row * width + k]);
            for (int k = from; k < to; k++) sum += Math.Exp(logits[row * width + k] - max);
            return -(logits[row * width + target] - max - Math.Log(sum));
        }
        var byHand = new double[wanted.Length];
        for (int row = 0; row < wanted.Length; row++)
        {
            int y = wanted[row];
            double expected;
            if (!factorized) expected = y < v.CodeOffset ? NegLog(parts[0], row, v.Count, 0, v.CodeOffset, y) : NegLog(parts[0], row, v.Count, v.CodeOffset, v.Count, y);
            else if (y < v.CodeOffset) expected = NegLog(parts[0], row, v.CodeOffset + 1, 0, v.CodeOffset, y); // the "a visual code" class is left out
            else
            {
                int code = y - v.CodeOffset; // LSB group first: 1 bit, then 3 bits
                expected = NegLog(parts[1], row, 2, 0, 2, code & 1) + NegLog(parts[2], row, 8, 0, 8, code >> 1);
            }
            Assert.True(Math.Abs(losses[row] - expected) < 1e-4, $"target {y}: loss {losses[row]}, by hand {expected}");
            byHand[row] = expected;
        }
        // Positions of weight 0 (one text, one code) skip the head and read 0; the others keep their hand-computed loss.
        var weights = tensor(new float[] { 1, 0, 0.5f, 0 }).unsqueeze(0);
        var skipping = gpt.Head.TokenLosses(hidden, tensor(wanted.Select(i => (long)i).ToArray()).unsqueeze(0), weights).data<float>().ToArray();
        Assert.Equal(0f, skipping[1]);
        Assert.Equal(0f, skipping[3]);
        Assert.True(Math.Abs(skipping[0] - byHand[0]) < 1e-4 && Math.Abs(skipping[2] - byHand[2]) < 1e-4, $"weighted rows {skipping[0]}, {skipping[2]}; by hand {byHand[0]}, {byHand[2]}");
        Assert.Throws<ArgumentException>(() => gpt.Head.TokenLosses(hidden, tensor(wanted.Select(i => (long)i).ToArray()).unsqueeze(0), ones(4)));
        // Per modality the log-probabilities sum to one.
        var logProbabilities = gpt.Head.FlatLogits(hidden);
        Assert.True(logProbabilities.narrow(-1, 0, v.CodeOffset).exp().sum(-1).allclose(ones(1, 4), rtol: 0, atol: 1e-4));
        Assert.True(logProbabilities.narrow(-1, v.CodeOffset, v.Count - v.CodeOffset).exp().sum(-1).allclose(ones(1, 4), rtol: 0, atol: 1e-4));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void ATinyModelOverfitsBothOrders(bool factorized, bool perModality)
    {
        using var scope = NewDisposeScope();
        var v = Vocabulary(codebook: 16);
        var scenes = new ShapesDataset(4, Split.Train).Batch(0, 4).Scenes!;
        var codes = VisualCodes.Fixed(tensor(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0 }, new long[] { 4, 4 }));
        var sequences = new UnifiedSequences(v, new VisualCorpus(scenes, codes), Array.Empty<string>(), SequenceMix.Standard(1, 1, 0, 0, 0));
        var model = new UnifiedModel(ModelOver(v, TinyGpt(v.Count, factorization: factorized ? v.Factorized(new[] { 2, 2 }) : null, context: 64,
            visualCodesFrom: perModality ? v.CodeOffset : null).Config));
        var optimizer = optim.AdamW(model.parameters(), 3e-3);
        
        // Fixed batch: both orders of the four pairs, one caption phrasing each.
        var rows = new List<TokenSequence>();
        var tasks = new List<SequenceTask>();
        for (int i = 0; i < 4; i++)
            foreach (var task in new[] { SequenceTasks.TextToImage, SequenceTasks.ImageToText })
            {
                rows.Add(sequences.Build(task, i, KitRandom.For(0, i)));
                tasks.Add(task);
            }
        using var batch = sequences.Pack(rows, Enumerable.Range(0, 8).Select(i => (long)(i / 2)).ToArray(), tasks.ToArray());
        double last = double.NaN;
        for (int step = 0; step < 200; step++)
        {
            using var stepScope = NewDisposeScope();
            var loss = model.Loss(batch);
            optimizer.zero_grad();
            loss.Total.backward();
            optimizer.step();
            last = loss.Total.item<float>();
        }
        // Floor: with four pairs the first caption word after [BOS] and the first code after [BOS] [IMG] are
        // 1-of-4 guesses (about 0.1 nats per token on average); an untrained model starts near ln(V) ≈ 4.
        Assert.True(last < 0.3, $"loss after 200 steps: {last}");
        foreach (var order in new[] { SequenceTasks.TextToImage, SequenceTasks.ImageToText })
        {
            var picked = Enumerable.Range(0, 8).Where(i => tasks[i] == order).ToList();
            using var one = sequences.Pack(picked.Select(i => rows[i]).ToList(), picked.Select(i => (long)(i / 2)).ToArray(), picked.Select(i => tasks[i]).ToArray());
            var check = model.Loss(one);
            Assert.True(check.Total.item<float>() < 0.4, $"{order}: loss {check.Total.item<float>()} (text {check.Text.item<float>()}, image {check.Image.item<float>()})");
        }
    }

    [Fact]
    public void ImageTargetsAreWeightedByWhetherTheRowAsksForTheImage()
    {
        using var scope = NewDisposeScope();
        var v = Vocabulary(codebook: 16);
        var scenes = new ShapesDataset(1, Split.Train).Batch(0, 1).Scenes!;
        var sequences = new UnifiedSequences(v, new VisualCorpus(scenes, VisualCodes.Fixed(tensor(new long[] { 1, 2, 3, 4 }, new long[] { 1, 4 }))), Corpus, SequenceMix.Standard());
        var tasks = new[] { SequenceTasks.TextToImage, SequenceTasks.ImageToText, SequenceTasks.Vqa, SequenceTasks.Text };
        var rows = tasks.Select(t => sequences.Build(t, 0, KitRandom.For(0, 0))).ToList();
        using var batch = sequences.Pack(rows, new long[] { 0, 0, 0, -1 }, tasks, imageLossWeight: 0.5, givenImageLossWeight: 0.125);
        var weights = batch.Weights.data<float>().ToArray();
        long t = batch.Weights.shape[1];
        for (int row = 0; row < rows.Count; row++)
        {
            // Expected by hand from the ids: target i + 1 of the row; a code asked for 0.5, a code given 0.125, text 1, padding 0.
            for (int i = 0; i < t; i++)
            {
                float expected = i + 1 >= rows[row].Length ? 0f
                    : rows[row].Ids[i + 1] < v.CodeOffset ? 1f
                    : tasks[row] == SequenceTasks.TextToImage ? 0.5f : 0.125f;
                Assert.Equal(expected, weights[row * t + i]);
            }
        }
        // Four codes per image row: text → image carries 4 × 0.5, image → text and VQA 4 × 0.125 each.
        Assert.Equal(4 * 0.5 + 8 * 0.125, batch.Weights.mul(batch.VisualTarget.to(float32)).sum().item<float>(), 5);
        // Unset, the given-image weight is the image weight.
        using var same = sequences.Pack(rows, new long[] { 0, 0, 0, -1 }, tasks, imageLossWeight: 0.5);
        Assert.Equal(12 * 0.5, same.Weights.mul(same.VisualTarget.to(float32)).sum().item<float>(), 5);
        var error = Assert.Throws<ArgumentException>(() => sequences.Pack(rows, new long[] { 0, 0, 0, -1 }, tasks.Take(3).ToArray()));
        Assert.Contains("3 tasks", error.Message);
    }

    [Fact]
    public void ContinuousInterfacesTakeFeaturesAtImagePositions()
    {
        using var scope = NewDisposeScope();
        var v = Vocabulary(codebook: 16);
        var scenes = new ShapesDataset(2, Split.Train).Batch(0, 2).Scenes!;
        var codes = VisualCodes.Fixed(tensor(new long[] { 1, 2, 3, 4, 5, 6, 7, 8 }, new long[] { 2, 4 }));
        var sequences = new UnifiedSequences(v, new VisualCorpus(scenes, codes), Array.Empty<string>(), SequenceMix.Standard(0, 1, 0, 0, 0));
        var model = new UnifiedModel(ModelOver(v, TinyGpt(v.Count).Config, VisualInterface.Regression, 3));
        using var batch = sequences.Pack(new[] { sequences.Build(SequenceTasks.ImageToText, 0, KitRandom.For(0, 0)), sequences.Build(SequenceTasks.ImageToText, 1, KitRandom.For(0, 0)) },
            new long[] { 0, 1 }, new[] { SequenceTasks.ImageToText, SequenceTasks.ImageToText });
        var features = randn(2, 4, 3);
        var a = model.Inputs(batch.Tokens, batch.VisualInput, features);
        var b = model.Inputs(batch.Tokens, batch.VisualInput, features + 1);
        var changed = a.sub(b).abs().sum(-1).gt(1e-6);
        Assert.True(changed.eq(batch.VisualInput).all().item<bool>(), "exactly the image positions must take the features");
        Assert.Throws<ArgumentException>(() => model.Inputs(batch.Tokens, batch.VisualInput, randn(2, 3, 3)));
        var loss = model.Loss(batch, features);
        Assert.True(loss.Image.item<float>() > 0);
        // With equal weights the regression loss is the plain MSE between the predicted and the next features, by hand:
        // the predictions at the four visual targets of each row against that row's features.
        var hidden = model.Gpt.Hidden(model.Inputs(batch.Tokens, batch.VisualInput, features));
        var predicted = model.PredictFeature(hidden).masked_select(batch.VisualTarget.unsqueeze(-1)).reshape(2, 4, 3);
        Assert.Equal((predicted - features).square().mean().item<float>(), loss.Image.item<float>(), 5);
        // A given image weighing 0 drops out: a text → image row beside it scores what it scores alone.
        var rows = new[] { sequences.Build(SequenceTasks.TextToImage, 0, KitRandom.For(0, 0)), sequences.Build(SequenceTasks.ImageToText, 1, KitRandom.For(0, 0)) };
        using var mixed = sequences.Pack(rows, new long[] { 0, 1 }, new[] { SequenceTasks.TextToImage, SequenceTasks.ImageToText }, imageLossWeight: 0.5, givenImageLossWeight: 0);
        using var alone = sequences.Pack(rows.Take(1).ToList(), new long[] { 0 }, new[] { SequenceTasks.TextToImage });
        Assert.Equal(model.Loss(alone, features.narrow(0, 0, 1)).Image.item<float>(), model.Loss(mixed, features).Image.item<float>(), 5);
        var patches = VisualFeatures.Patches(arange(2 * 3 * 8 * 8, dtype: float32).reshape(2, 3, 8, 8), 4);
        Assert.Equal(new long[] { 2, 4, 48 }, patches.shape);
        Assert.Equal(4f, patches[0, 1, 0].item<float>()); // patch (0, 1) starts at pixel (0, 4) of channel 0
    }

    [Fact]
    public void RotaryPositionsRotateEachChannelPairByItsAngle()
    {
        // RoFormer's rotation, written out per element: channel i and channel i + hd/2 of position p turn by
        // θ = p · 10000^(−2i/hd): (a, b) → (a cos θ − b sin θ, b cos θ + a sin θ).
        const int hd = 8, t = 5;
        var rope = new RotaryEmbedding(hd, contextLength: 16);
        using var positions = tensor(new long[] { 0, 3, 7, 2, 15 }).reshape(1, t);
        Seeding.SeedEverything(3);
        using var x = randn(1, 2, t, hd);
        using var rotated = RotaryEmbedding.Apply(x, rope.At(positions));
        var xs = x.data<float>().ToArray();
        var ys = rotated.data<float>().ToArray();
        long[] pos = { 0, 3, 7, 2, 15 };
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < t; j++)
                for (int i = 0; i < hd / 2; i++)
                {
                    double theta = pos[j] * Math.Pow(10000, -2.0 * i / hd);
                    int at = (h * t + j) * hd;
                    double a = xs[at + i], b = xs[at + i + hd / 2];
                    Assert.Equal(a * Math.Cos(theta) - b * Math.Sin(theta), ys[at + i], 4);
                    Assert.Equal(b * Math.Cos(theta) + a * Math.Sin(theta), ys[at + i + hd / 2], 4);
                }
    }
}
