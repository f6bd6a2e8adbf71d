// The three things a unified model is for, as one call each: Caption(images) → text, Answer(images, questions) → text,
// Generate(prompts) → images (codes through the visual tokenizer's decoder, as many per image as the model chooses
// within the tokenizer's bounds). Greedy decoding by default for understanding (the answer is a fact) and sampling
// with guidance for generation.
using Kit.Core;
using Kit.Tokenizers;
using static TorchSharp.torch;

namespace Kit.Language;

/// <summary>What the language model sees of an image under each visual interface.</summary>
public static class VisualFeatures
{
    /// <summary>The quantized code embeddings [B, L, LatentDim] (Regression interface; one code per position).</summary>
    public static Tensor Latents(ImageTokenizer tokenizer, Tensor codes, int side)
    {
        if (tokenizer.Quantizer.IndicesPerPosition != 1)
            throw new ArgumentException($"continuous features need one code per position; this quantizer has " +
                $"{tokenizer.Quantizer.IndicesPerPosition}.", nameof(tokenizer));
        using var noGrad = no_grad();
        return tokenizer.Quantizer.Lookup(codes.reshape(-1, side, side)).flatten(2).transpose(1, 2).contiguous();
    }

    /// <summary>Raw pixel patches [B, (H/p)·(W/p), C·p·p] in raster order (PatchProjection interface, Fuyu).</summary>
    public static Tensor Patches(Tensor images, int patch)
    {
        var (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3]);
        if (h % patch != 0 || w % patch != 0) throw new ArgumentException($"image side {h}×{w} is not divisible by the patch size {patch}.",
            nameof(patch));
        return images.reshape(b, c, h / patch, patch, w / patch, patch).permute(0, 2, 4, 1, 3, 5).reshape(b, h / patch * (w / patch),
            c * patch * patch).contiguous();
    }

    /// <summary>
    /// The features <paramref name="interface"/> feeds for <paramref name="images"/> and their <paramref name="codes"/> [B, L]
    /// (null for Tokens). The continuous interfaces need a fixed-grid tokenizer.
    /// </summary>
    public static Tensor? For(VisualInterface @interface, IVisualTokenizer tokenizer, Tensor images, Tensor codes)
    {
        if (@interface == VisualInterface.Tokens) return null;
        if (tokenizer is not ImageTokenizer grid)
            throw new ArgumentException($"the {@interface} interface needs a fixed-grid ImageTokenizer; {tokenizer.GetType().Name} " +
                $"gives each image its own number of codes.", nameof(tokenizer));
        return @interface == VisualInterface.Regression ? Latents(grid, codes, grid.CodeMapSize((int)images.shape[2])) : Patches(images,
            grid.Config.DownsampleFactor);
    }
}

/// <summary>Captioning, question answering and text-to-image generation with a trained unified model.</summary>
public sealed class UnifiedPipeline
{
    readonly SequenceLayout _layout;

    public UnifiedPipeline(UnifiedModel model, UnifiedVocabulary vocabulary, IVisualTokenizer tokenizer)
    {
        if (tokenizer.CodebookSize != vocabulary.CodebookSize)
            throw new ArgumentException($"the tokenizer has {tokenizer.CodebookSize} codes but the vocabulary {vocabulary.CodebookSize}.",
                nameof(tokenizer));
        (Model, Vocabulary, Tokenizer) = (model, vocabulary, tokenizer);
        _layout = new SequenceLayout(vocabulary);
    }

    /// <summary>The unified LLM that captions, answers and draws.</summary>
    public UnifiedModel Model { get; }

    /// <summary>Its vocabulary (and so its sequence layout).</summary>
    public UnifiedVocabulary Vocabulary { get; }

    /// <summary>The image tokenizer it reads and writes through.</summary>
    public IVisualTokenizer Tokenizer { get; }

    Device Device => Model.parameters().First().device;

    /// <summary>One caption per image [B, C, H, W].</summary>
    public string[] Caption(Tensor images, SamplingOptions? options = null, int maxTokens = 40)
    {
        using var scope = NewDisposeScope();
        var (codes, features) = Look(images);
        var prompts = codes.Rows().Select(c => _layout.CaptionPrompt(c, Depth).Ids).ToList();
        return Text(prompts, features, options, maxTokens, Stacks(codes));
    }

    /// <summary>One answer per (image, question).</summary>
    public string[] Answer(Tensor images, IReadOnlyList<string> questions, SamplingOptions? options = null, int maxTokens = 8)
    {
        if (questions.Count != images.shape[0]) throw new ArgumentException($"{questions.Count} questions for {images.shape[0]} images.",
            nameof(questions));
        using var scope = NewDisposeScope();
        var (codes, features) = Look(images);
        var prompts = codes.Rows().Select((c, i) => _layout.QuestionPrompt(c, questions[i], Depth).Ids).ToList();
        return Text(prompts, features, options, maxTokens, Stacks(codes));
    }

    /// <summary>
    /// Images [B, C, H, W] for text prompts and the codes generated for them (each prompt's own number; the regression
    /// interface decodes its features directly, and its codes are then −1).
    /// </summary>
    public (Tensor Images, VisualCodes Codes) Generate(IReadOnlyList<string> prompts, SamplingOptions? options = null)
    {
        options ??= new SamplingOptions(Guidance: 3.0);
        var conditional = prompts.Select(p => _layout.TextToImagePrompt(p).Ids).ToList();
        var unconditional = prompts.Select(_ => _layout.TextToImagePrompt("").Ids).ToList();
        using var scope = NewDisposeScope();
        if (Model.Config.Visual == VisualInterface.Regression)
        {
            var grid = Tokenizer as ImageTokenizer
                ?? throw new InvalidOperationException("the Regression interface needs a fixed-grid ImageTokenizer.");
            int side = grid.CodeMapSize(grid.ImageSize);
            var features = Generation.GenerateFeatures(Model, conditional, grid.CodesPerImage, unconditional, options.Guidance);
            var latents = features.transpose(1, 2).reshape(prompts.Count, -1, side, side);
            var none = VisualCodes.Fixed(full(prompts.Count, grid.CodesPerImage, -1L));
            return (grid.DecodeLatents(latents).clamp(-1, 1).MoveToOuterDisposeScope(),
                none with { Codes = none.Codes.MoveToOuterDisposeScope() });
        }
        if (Model.Config.Visual != VisualInterface.Tokens) throw new InvalidOperationException($"the {Model.Config.Visual} interface " +
            $"cannot generate images.");
        var constraint = new DecodingConstraint(Vocabulary, prompts.Count, Tokenizer.MinCodesPerImage, Tokenizer.MaxCodesPerImage,
            stopAfterImage: true, startInsideImage: true);
        var generated = Generation.Generate(Model, conditional, Tokenizer.MaxCodesPerImage + 1, options, constraint, unconditional);
        var close = Vocabulary[SpecialToken.EndImg];
        var rows = generated.Select(g => g.TakeWhile(id => id != close).Select(id => (long)Vocabulary.CodeOf(id)).ToArray()).ToList();
        var codes = VisualCodes.FromRows(rows);
        var images = Tokenizer.DecodeTokens(codes).clamp(-1, 1);
        return (images.MoveToOuterDisposeScope(), codes with { Codes = codes.Codes.MoveToOuterDisposeScope() });
    }

    /// <summary>
    /// Images [N, C, H, W] for many prompts, <paramref name="chunk"/> per <see cref="Generate"/> call; chunk k samples with seed
    /// options.Seed + its first prompt's index, so a prompt's image does not depend on how many prompts came before its chunk.
    /// </summary>
    public Tensor GenerateImages(IReadOnlyList<string> prompts, SamplingOptions options, int chunk = 32) =>
        Scopes.InChunks(prompts.Count, chunk, (start, n) =>
            Generate(Enumerable.Range((int)start, (int)n).Select(i => prompts[i]).ToList(), options with { Seed = options.Seed
                + start }).Images);

    (VisualCodes Codes, Tensor? Features) Look(Tensor images)
    {
        images = images.to(Device);
        var codes = Tokenizer.EncodeTokens(images);
        return (codes, VisualFeatures.For(Model.Config.Visual, Tokenizer, images, codes.Codes));
    }

    int Depth => Model.Config.StackDepth;

    // An image as a prompt is given the layout's way: its codes, or (stacked codes) one compressed position per D codes,
    // which hold the padding id; Generate fills them from the stacks, where features would go.

    // The compressed positions' code ids [B, L, D] (vocabulary ids), or null for one code per position.
    Tensor? Stacks(VisualCodes codes)
    {
        if (Depth == 1) return null;
        var rows = codes.Rows();
        int positions = rows[0].Length / Depth;
        if (rows.Any(r => r.Length != positions * Depth)) throw new ArgumentException($"stacked prompts need {positions * Depth} codes " +
            $"per image (D={Depth}).", nameof(codes));
        return tensor(rows.SelectMany(r => r.Select(c => (long)Vocabulary.CodeId(c))).ToArray(), new long[] { rows.Length, positions,
            Depth }, device: Device);
    }

    string[] Text(List<int[]> prompts, Tensor? features, SamplingOptions? options, int maxTokens, Tensor? stacks = null)
    {
        var constraint = new DecodingConstraint(Vocabulary, prompts.Count, Tokenizer.MinCodesPerImage, Tokenizer.MaxCodesPerImage,
            allowImages: false);
        var generated = Generation.Generate(Model, prompts, maxTokens, options ?? new SamplingOptions(Greedy: true), constraint,
            promptFeatures: features, promptStacks: stacks);
        return generated.Select(g => Vocabulary.DecodeText(g).Trim()).ToArray();
    }
}
