// LexVLA's parts against hand-worked values: ELU1p, max-pooling and the 1/√V cut, InfoNCE, the FLOPs and overuse terms,
// recall@K and PatchDis mIoU; the lexicon's rule on a corpus whose answers are known; and a tiny training run that
// lifts retrieval above chance.
using Kit.Data;
using Kit.Evaluation;
using Kit.Language;
using Kit.Lexical;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed class LexicalTests
{
    static Tensor T(float[] values, params long[] shape) => tensor(values, shape);

    [Fact]
    public void Elu1pIsPositiveAndEqualsEluPlusOne()
    {
        var y = LexicalVectors.Elu1p(T(new[] { -10f, -1f, 0f, 2f }, 4)).data<float>().ToArray();
        Assert.True(y.All(v => v > 0));
        Assert.Equal(Math.Exp(-1), y[1], 5);   // elu(−1) + 1 = e^−1 − 1 + 1
        Assert.Equal(1.0, y[2], 6);
        Assert.Equal(3.0, y[3], 6);            // x + 1 for x ≥ 0
    }

    [Fact]
    public void MaxPoolTakesEachEntrysLargestPatch()
    {
        // Two patches of one image over three words.
        var pooled = LexicalVectors.MaxPool(T(new[] { 1f, 5f, 0f, 4f, 2f, 3f }, 1, 2, 3)).data<float>().ToArray();
        Assert.Equal(new[] { 4f, 5f, 3f }, pooled);
    }

    [Fact]
    public void TheCutKeepsEntriesAtLeastOneOverRootV()
    {
        // V = 4: the cut is 0.5. A uniform normalised vector keeps all four entries; (0.8, 0.6, 0, 0) keeps two.
        Assert.Equal(0.5, LexicalVectors.Threshold(4), 12);
        var uniform = LexicalVectors.Normalise(ones(1, 4));
        Assert.Equal(4f, LexicalVectors.ActiveCount(LexicalVectors.Sparsify(uniform)).item<float>());
        var kept = LexicalVectors.Sparsify(T(new[] { 0.49f, 0.8f, 0.3f, 0.15f }, 1, 4)).data<float>().ToArray();
        Assert.Equal(new[] { 0f, 0.8f, 0f, 0f }, kept);
        var top = LexicalVectors.TopK(T(new[] { 0.1f, 0.7f, 0.3f, 0.5f }, 1, 4), 2).data<float>().ToArray();
        Assert.Equal(new[] { 0f, 0.7f, 0f, 0.5f }, top);
    }

    [Fact]
    public void InfoNceEqualsAHandComputation()
    {
        // a = b = rows (1, 0) and (0, 1), temperature 1: logits [[1, 0], [0, 1]], each row's CE = log(1 + e^−1) in both directions.
        var a = T(new[] { 1f, 0f, 0f, 1f }, 2, 2);
        Assert.Equal(Math.Log(1 + Math.Exp(-1)), InfoNce.Loss(a, a, 1.0).item<float>(), 5);
        // A low temperature makes the right pairs certain: the loss goes to 0.
        Assert.True(InfoNce.Loss(a, a, 0.01).item<float>() < 1e-6);
        // Every image and every caption identical: nothing tells the pairs apart, and the loss is log N.
        var same = ones(5, 3) / Math.Sqrt(3);
        Assert.Equal(Math.Log(5), InfoNce.Loss(same, same, 0.1).item<float>(), 4);
    }

    [Fact]
    public void FlopsIsTheSquaredBatchMeanSummedOverEntries()
    {
        // Batch of 2 over 2 entries: means (0.5, 1.0) → 0.25 + 1.
        var s = T(new[] { 1f, 2f, 0f, 0f }, 2, 2);
        Assert.Equal(1.25, SparsityPenalty.Flops(s).item<float>(), 6);
    }

    [Fact]
    public void OverusePunishesAnEntryEverySampleUsesMoreThanOneSampleUses()
    {
        // Same total mass 4 on one entry in a batch of 4: spread over every sample (1 each) or all in one sample (4).
        var everywhere = T(new[] { 1f, 0f, 1f, 0f, 1f, 0f, 1f, 0f }, 4, 2);
        var once = T(new[] { 4f, 0f, 0f, 0f, 0f, 0f, 0f, 0f }, 4, 2);
        Assert.Equal(SparsityPenalty.Flops(everywhere).item<float>(), SparsityPenalty.Flops(once).item<float>(), 6);   // FLOPs cannot tell them apart
        Assert.Equal(1.0, SparsityPenalty.Participation(everywhere)[0].item<float>(), 5);   // held by all 4 samples
        Assert.Equal(0.25, SparsityPenalty.Participation(once)[0].item<float>(), 5);        // by one of 4
        Assert.Equal(1.0, SparsityPenalty.Overuse(everywhere).item<float>(), 5);             // ā² · u = 1 · 1, as FLOPs
        Assert.Equal(0.25, SparsityPenalty.Overuse(once).item<float>(), 5);                  // 1 · 1/4
    }

    [Fact]
    public void RecallAtKOnAHandBuiltMatrix()
    {
        // Query 0 ranks its right item (1) second; query 1 ranks its (0) third; query 2 has two right items, one first.
        var similarity = T(new[] { 0.9f, 0.8f, 0.1f, 0.5f, 0.9f, 0.7f, 0.3f, 0.2f, 0.6f }, 3, 3);
        var right = tensor(new[] { false, true, false, true, false, false, false, true, true }, new long[] { 3, 3 });
        Assert.Equal(1.0 / 3, Retrieval.RecallAtK(similarity, right, 1), 6);
        Assert.Equal(2.0 / 3, Retrieval.RecallAtK(similarity, right, 2), 6);
        Assert.Equal(1.0, Retrieval.RecallAtK(similarity, right, 3), 6);
        var same = Retrieval.SameCaption(new[] { "a", "b", "a" });
        Assert.True(same[0, 2].item<bool>() && !same[0, 1].item<bool>());
    }

    [Fact]
    public void PatchDisMeanIoUOnAHandBuiltMask()
    {
        // A 2×2 patch grid on a 4×4 image. Patch similarities to 2 classes; threshold 0.5 → labels [1, 0, 2, 2].
        var similarity = T(new[] { 0.9f, 0.1f, 0.2f, 0.4f, 0.3f, 0.8f, 0.1f, 0.6f }, 1, 4, 2);
        var labels = PatchDiscrimination.Label(similarity, 0.5);
        Assert.Equal(new long[] { 1, 0, 2, 2 }, labels.data<long>().ToArray());
        var pixels = PatchDiscrimination.Upsample(labels, 2, 2, 4, 4);
        Assert.Equal(1, pixels[0, 1, 1].item<long>());
        Assert.Equal(0, pixels[0, 0, 2].item<long>());
        Assert.Equal(2, pixels[0, 3, 0].item<long>());
        // Truth: class 1 on the top-left 2×2 square, class 2 on the bottom-left square only, the rest background.
        var truth = zeros(1, 4, 4, dtype: int64);
        truth[0, TensorIndex.Slice(0, 2), TensorIndex.Slice(0, 2)] = tensor(1L);
        truth[0, TensorIndex.Slice(2, 4), TensorIndex.Slice(0, 2)] = tensor(2L);
        // Background: predicted 4 px, true 8 px, overlap 4 → 0.5; class 1: 4/4 → 1; class 2: predicted 8, true 4, overlap 4 → 0.5.
        var iou = PatchDiscrimination.ClassIoU(pixels, truth, 3);
        Assert.Equal(new[] { 0.5, 1.0, 0.5 }, iou);
        Assert.Equal(2.0 / 3, PatchDiscrimination.MeanIoU(pixels, truth, 3), 9);
    }

    [Fact]
    public void TheLexiconKeepsWholeContentWordsOnly()
    {
        var corpus = new[] { "the red circle is above a blue square, 42 times", "Zxqvbnmw qwpzk and the circle" };
        var text = TextTokenizer.Fit(corpus);
        var lexicon = Lexicon.Build(text, corpus);
        Assert.True(lexicon.IndexOf("red") >= 0 && lexicon.IndexOf("circle") >= 0 && lexicon.IndexOf("square") >= 0);
        Assert.Equal(-1, lexicon.IndexOf("the"));      // stop word
        Assert.True(lexicon.IndexOf("above") >= 0);    // a relation, kept: not on the stop list
        Assert.Equal(-1, lexicon.IndexOf("qwpzk"));    // split into several tokens by the BPE
        Assert.Equal(-1, lexicon.IndexOf("zxqvbnmw")); // capitalised in the corpus: never seen as a lower-case word
        Assert.DoesNotContain(lexicon.Words, w => w.Any(char.IsDigit));
        Assert.True(lexicon.IsShapesWord[lexicon.IndexOf("red")]);
        var bag = lexicon.BagOfWords("a red circle");
        Assert.Equal(2f, bag.Sum());
        Assert.Equal(1f, bag[lexicon.IndexOf("circle")]);
    }

    [Fact]
    public void ATinyRunRaisesRecallAboveChance()
    {
        // Eight "scenes", each a colour–shape pair; an image is four patches whose features one-hot the pair; captions name it.
        var colours = new[] { "red", "blue", "green", "yellow" };
        var shapes = new[] { "circle", "square" };
        var captions = colours.SelectMany(c => shapes.Select(s => $"a {c} {s}")).ToList();
        var text = TextTokenizer.Fit(captions);
        var vocabulary = new UnifiedVocabulary(text, 2);
        manual_seed(11);
        using var gpt = new Gpt(new GptConfig(vocabulary.Count, ContextLength: 32, Layers: 1, Heads: 2, Dim: 16));
        var lexicon = Lexicon.Build(text, captions);
        using var model = new LexicalDualEncoder(8, lexicon, new PromptedText(gpt, vocabulary), TextTarget.BagOfWords);
        var features = zeros(8, 4, 8);
        for (int i = 0; i < 8; i++) features[i, TensorIndex.Colon, i] = tensor(1f);
        features += 0.05f * randn(8, 4, 8);
        double Recall()
        {
            using var noGrad = no_grad();
            var v = LexicalVectors.Normalise(LexicalVectors.Sparsify(model.EncodeImages(features)));
            var t = model.EncodeTexts(captions);
            return Retrieval.RecallAtK(v.matmul(t.t()), eye(8, dtype: @bool), 1);
        }
        var trainer = new Trainer(model, new TrainerOptions(200, 1e-2, ShowProgress: false));
        trainer.Run(_ => new StepResult(InfoNce.Loss(model.EncodeImages(features), model.EncodeTexts(captions), 0.1)));
        Assert.True(Recall() >= 0.75, $"R@1 {Recall():P0} after training; chance is 12.5 %");
    }

    // A tiny prompted GPT over colour–shape captions, for the text side's own tests.
    static (PromptedText Text, Lexicon Lexicon, Gpt Gpt) TinyText(int layers = 2, int tunedBlocks = 1)
    {
        var captions = new[] { "a red circle", "a blue square left of a green circle", "what is in the picture" };
        var text = TextTokenizer.Fit(captions);
        var vocabulary = new UnifiedVocabulary(text, 2);
        manual_seed(5);
        var gpt = new Gpt(new GptConfig(vocabulary.Count, ContextLength: 48, Layers: layers, Heads: 2, Dim: 16));
        return (new PromptedText(gpt, vocabulary, tunedBlocks), Lexicon.Build(text, captions), gpt);
    }

    [Fact]
    public void PromptedTextTunesExactlyItsLastBlocksAndRefusesMore()
    {
        var (prompted, _, gpt) = TinyText(layers: 3, tunedBlocks: 2);
        using var _ = gpt;
        var tuned = prompted.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.Contains(tuned, n => n.Contains("h.1."));
        Assert.Contains(tuned, n => n.Contains("h.2."));
        Assert.Contains(tuned, n => n.Contains("ln_f."));
        Assert.DoesNotContain(tuned, n => n.Contains("h.0.") || n.Contains("wte"));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new PromptedText(gpt, prompted.Vocabulary, 4));
        Assert.Contains("1…3", error.Message);
    }

    [Fact]
    public void CaptionPositionsAreTheCaptionsOwnTokensWhateverThePadding()
    {
        var (prompted, _, gpt) = TinyText();
        using var _ = gpt;
        var captions = new[] { "a red circle", "a blue square left of a green circle" };
        using var noGrad = no_grad();
        var (hidden, caption) = prompted.States(captions);
        var marked = caption.sum(1).data<long>().ToArray();
        // Counted another way: the caption's ids alone.
        Assert.Equal(prompted.Vocabulary.EncodeText(captions[0]).Length, marked[0]);
        Assert.Equal(prompted.Vocabulary.EncodeText(captions[1]).Length, marked[1]);
        // The shorter prompt is left-padded, and its positions just before the suffix are the caption's.
        long t = hidden.shape[1], suffix = prompted.Vocabulary.EncodeText(PromptedText.Suffix).Length;
        Assert.True(caption[0, t - suffix - 1].item<bool>());
        Assert.False(caption[0, t - suffix].item<bool>());
        Assert.False(caption[0, 0].item<bool>());
    }

    [Fact]
    public void CaptionPooledTextVectorIsTheMaxOverItsCaptionPositions()
    {
        var (prompted, lexicon, gpt) = TinyText();
        using var _ = gpt;
        using var noGrad = no_grad();
        var encoder = new LexicalTextEncoder(prompted, lexicon, TextReadout.CaptionPooled);
        var captions = new[] { "a red circle", "a blue square left of a green circle" };
        var batched = encoder.Encode(captions);
        // Naively, one caption at a time (no padding): score each caption position, take each word's largest, normalise.
        for (int i = 0; i < captions.Length; i++)
        {
            var (hidden, caption) = prompted.States(new[] { captions[i] });
            int n = prompted.Vocabulary.EncodeText(captions[i]).Length;
            var best = new double[lexicon.Count];
            Array.Fill(best, double.NegativeInfinity);
            for (int position = 1; position <= n; position++)
            {
                Assert.True(caption[0, position].item<bool>());
                var scores = hidden[0, position].matmul(encoder.Codebook.t()).data<float>().ToArray();
                for (int j = 0; j < best.Length; j++)
                {
                    double e = scores[j] >= 0 ? scores[j] + 1 : Math.Exp(scores[j]);
                    best[j] = Math.Max(best[j], e);
                }
            }
            double norm = Math.Sqrt(best.Sum(v => v * v));
            var row = batched[i].data<float>().ToArray();
            for (int j = 0; j < best.Length; j++) Assert.Equal(best[j] / norm, row[j], 4);
        }
        // The last-token readout is a different vector.
        var last = new LexicalTextEncoder(prompted, lexicon, TextReadout.LastToken).Encode(captions);
        Assert.True((last - batched).abs().max().item<float>() > 1e-3f);
    }
    [Fact]
    public void ColourMasksGiveEveryObjectPixelItsObjectsColourClass()
    {
        var batch = new ShapesDataset(3, Split.Test, new ShapesOptions(Seed: 11)).Batch(0, 3);
        var colours = ShapesMasks.Colours(batch).data<long>().ToArray();
        var shapes = batch.Masks!.to(int64).data<long>().ToArray();
        long pixels = batch.Masks.shape[1] * batch.Masks.shape[2];
        for (int i = 0; i < shapes.Length; i++)
        {
            var scene = batch.Scenes![(int)(i / pixels)];
            long expected = shapes[i] == 0 ? 0 : (int)scene.Objects.Single(o => o.ClassId == shapes[i]).Colour + 1;
            Assert.Equal(expected, colours[i]);
        }
    }

    [Fact]
    public void ZeroShotAccuracyIsTheShareOfImagesNearestTheirOwnPrompt()
    {
        // Three images, two classes: image 0 is nearest class 0, images 1 and 2 nearest class 1; labels 0, 0, 1 → 2 of 3 right.
        var features = tensor(new float[] { 1, 0, 0, 1, 0.2f, 0.9f }).reshape(3, 2);
        var classes = tensor(new float[] { 1, 0, 0, 1 }).reshape(2, 2);
        Assert.Equal(2 / 3.0, ZeroShotClassification.Accuracy(x => x, classes, features, tensor(new long[] { 0, 0, 1 })), 6);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => ZeroShotClassification.Accuracy(x => x, classes, features, tensor(new long[] { 0 }))).ParamName);
    }

    [Fact]
    public void PatchDisChoosesTheThresholdThatSeparatesObjectFromBackgroundOnValidation()
    {
        // A 2×2 grid over 4×4 pixels, one class: object patches score 1 against it, background patches 0.2. Labelling
        // everything as the class (threshold 0.2) loses the background; threshold 1 labels every patch right.
        var masks = zeros(1, 4, 4, dtype: int64);
        masks[0, TensorIndex.Slice(0, 2), TensorIndex.Slice(0, 2)] = tensor(1L);  // the top-left patch is the object
        var patches = tensor(new float[] { 1, 0.2f, 0.2f, 0.2f }).reshape(1, 4, 1);
        var split = new PatchDisSplit(patches, masks);
        var scores = PatchDisProtocol.Score("one", tensor(new float[] { 1 }).reshape(1, 1), split, split, grid: 2, seed: 0);
        Assert.Equal(1, scores.Threshold, 6);
        Assert.Equal(1, scores.MeanIoU, 6);
        Assert.Equal(new long[] { 1, 0, 0, 0 }, scores.Labels.data<long>().ToArray());
        // Patches that do not fit the grid are refused, naming the split.
        var misfit = new PatchDisSplit(tensor(new float[] { 1, 0.2f }).reshape(1, 2, 1), masks);
        Assert.Equal("test", Assert.Throws<ArgumentException>(() => PatchDisProtocol.Score("one", tensor(new float[] { 1 }).reshape(1, 1), split, misfit, 2, 0)).ParamName);
    }
}
