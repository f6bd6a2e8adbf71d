// The three things a unified model is for, as one call each: Caption(images) → text, Answer(images,
// questions) → text, Generate(prompts) → images (codes through the tokenizer's decoder). Greedy decoding by
// default for understanding (the answer is a fact) and sampling with guidance for generation.
using Kit.Core;
using Kit.Tokenizers;
using static TorchSharp.torch;

namespace Kit.Language;

/// <summary>What the language model sees of an image under each visual interface.</summary>
public static class VisualFeatures
{
    /// <summary>Codes in raster order [B, L] (stacked quantizers: depth innermost).</summary>
    public static Tensor Codes(ImageTokenizer tokenizer, Tensor images) => tokenizer.Encode(images).reshape(images.shape[0], -1);

    /// <summary>The quantized code embeddings [B, L, LatentDim] (Regression interface; one code per position).</summary>
    public static Tensor Latents(ImageTokenizer tokenizer, Tensor codes, int side)
    {
        if (tokenizer.Quantizer.IndicesPerPosition != 1)
            throw new ArgumentException($"continuous features need one code per position; this quantizer has {tokenizer.Quantizer.IndicesPerPosition}.", nameof(tokenizer));
        using var noGrad = no_grad();
        return tokenizer.Quantizer.Lookup(codes.reshape(-1, side, side)).flatten(2).transpose(1, 2).contiguous();
    }

    /// <summary>Raw pixel patches [B, (H/p)·(W/p), C·p·p] in raster order (PatchProjection interface, Fuyu).</summary>
    public static Tensor Patches(Tensor images, int patch)
    {
        var (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3]);
        if (h % patch != 0 || w % patch != 0) throw new ArgumentException($"image side {h}×{w} is not divisible by the patch size {patch}.", nameof(patch));
        return images.reshape(b, c, h / patch, patch, w / patch, patch).permute(0, 2, 4, 1, 3, 5).reshape(b, h / patch * (w / patch), c * patch * patch).contiguous();
    }

    /// <summary>The features <paramref name="interface"/> feeds for <paramref name="images"/> (null for Tokens).</summary>
    public static Tensor? For(VisualInterface @interface, ImageTokenizer tokenizer, Tensor images, Tensor codes) => @interface switch
    {
        VisualInterface.Regression => Latents(tokenizer, codes, tokenizer.CodeMapSize((int)images.shape[2])),
        VisualInterface.PatchProjection => Patches(images, tokenizer.Config.DownsampleFactor),
        _ => null,
    };
}

/// <summary>Captioning, question answering and text-to-image generation with a trained unified model.</summary>
public sealed class UnifiedPipeline
{
    readonly UnifiedSequences _prompts;

    public UnifiedPipeline(UnifiedModel model, UnifiedVocabulary vocabulary, ImageTokenizer tokenizer)
    {
        Model = model;
        Vocabulary = vocabulary;
        Tokenizer = tokenizer;
        _prompts = new UnifiedSequences(vocabulary, null, Array.Empty<string>(), new SequenceMix(0, 0, 0, 0, 0));
    }

    public UnifiedModel Model { get; }
    public UnifiedVocabulary Vocabulary { get; }
    public ImageTokenizer Tokenizer { get; }

    Device Device => Model.parameters().First().device;

    /// <summary>One caption per image [B, C, H, W].</summary>
    public string[] Caption(Tensor images, SamplingOptions? options = null, int maxTokens = 40)
    {
        using var scope = NewDisposeScope();
        var (codes, features) = Look(images);
        var prompts = Rows(codes).Select(c => _prompts.CaptionPrompt(c)).ToList();
        return Text(prompts, features, options, maxTokens);
    }

    /// <summary>One answer per (image, question).</summary>
    public string[] Answer(Tensor images, IReadOnlyList<string> questions, SamplingOptions? options = null, int maxTokens = 8)
    {
        if (questions.Count != images.shape[0]) throw new ArgumentException($"{questions.Count} questions for {images.shape[0]} images.", nameof(questions));
        using var scope = NewDisposeScope();
        var (codes, features) = Look(images);
        var prompts = Rows(codes).Select((c, i) => _prompts.QuestionPrompt(c, questions[i])).ToList();
        return Text(prompts, features, options, maxTokens);
    }

    /// <summary>Images [B, C, H, W] for text prompts, and their codes [B, L] (the regression interface decodes its features directly; codes are then −1).</summary>
    public (Tensor Images, Tensor Codes) Generate(IReadOnlyList<string> prompts, SamplingOptions? options = null)
    {
        options ??= new SamplingOptions(Guidance: 3.0);
        var conditional = prompts.Select(p => _prompts.TextToImagePrompt(p)).ToList();
        var unconditional = prompts.Select(_ => _prompts.TextToImagePrompt("")).ToList();
        int side = (int)Math.Round(Math.Sqrt(Vocabulary.CodesPerImage / Tokenizer.Quantizer.IndicesPerPosition));
        using var scope = NewDisposeScope();
        if (Model.Config.Visual == VisualInterface.Regression)
        {
            var features = Generation.GenerateFeatures(Model, conditional, Vocabulary.CodesPerImage, unconditional, options.Guidance);
            var latents = features.transpose(1, 2).reshape(prompts.Count, -1, side, side);
            return (Tokenizer.DecodeLatents(latents).clamp(-1, 1).MoveToOuterDisposeScope(), full(prompts.Count, Vocabulary.CodesPerImage, -1L).MoveToOuterDisposeScope());
        }
        if (Model.Config.Visual != VisualInterface.Tokens) throw new InvalidOperationException($"the {Model.Config.Visual} interface cannot generate images.");
        var constraint = new DecodingConstraint(Vocabulary, prompts.Count, stopAfterImage: true, startInsideImage: true);
        var generated = Generation.Generate(Model, conditional, Vocabulary.CodesPerImage + 1, options, constraint, unconditional);
        var codes = tensor(generated.SelectMany(g => g.Take(Vocabulary.CodesPerImage).Select(id => (long)Vocabulary.CodeOf(id))).ToArray(),
            new long[] { prompts.Count, Vocabulary.CodesPerImage });
        var shape = Tokenizer.Quantizer.IndicesPerPosition > 1 ? new long[] { prompts.Count, side, side, Tokenizer.Quantizer.IndicesPerPosition } : new long[] { prompts.Count, side, side };
        var images = Tokenizer.Decode(codes.reshape(shape).to(Device)).clamp(-1, 1);
        return (images.MoveToOuterDisposeScope(), codes.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Images [N, C, H, W] for many prompts, <paramref name="chunk"/> per <see cref="Generate"/> call; chunk k samples with seed
    /// options.Seed + its first prompt's index, so a prompt's image does not depend on how many prompts came before its chunk.
    /// </summary>
    public Tensor GenerateImages(IReadOnlyList<string> prompts, SamplingOptions options, int chunk = 32) =>
        Scopes.InChunks(prompts.Count, chunk, (start, n) =>
            Generate(Enumerable.Range((int)start, (int)n).Select(i => prompts[i]).ToList(), options with { Seed = options.Seed + start }).Images);

    (Tensor Codes, Tensor? Features) Look(Tensor images)
    {
        images = images.to(Device);
        var codes = VisualFeatures.Codes(Tokenizer, images);
        return (codes, VisualFeatures.For(Model.Config.Visual, Tokenizer, images, codes));
    }

    // One copy of all codes to the CPU, then split by row (not a device round trip per row).
    static IEnumerable<long[]> Rows(Tensor codes) => codes.cpu().data<long>().ToArray().Chunk((int)codes.shape[1]);

    string[] Text(List<int[]> prompts, Tensor? features, SamplingOptions? options, int maxTokens)
    {
        var constraint = new DecodingConstraint(Vocabulary, prompts.Count, allowImages: false);
        var generated = Generation.Generate(Model, prompts, maxTokens, options ?? new SamplingOptions(Greedy: true), constraint, promptFeatures: features);
        return generated.Select(g => Vocabulary.DecodeText(g).Trim()).ToArray();
    }
}
