// What a language model needs of an image tokenizer: images to codes and back, however many codes an image takes.
// A fixed-grid tokenizer gives every image h·w·D codes; LaVIT's dynamic tokenizer keeps as many tokens as an image's
// content needs. Codes travel as a padded [B, L_max] tensor with each image's length beside it.
using static TorchSharp.torch;

namespace Kit.Tokenizers;

/// <summary>A batch of images' codes: [B, L_max] padded with −1, and each image's number of codes.</summary>
public sealed record VisualCodes(Tensor Codes, long[] Lengths) : IDisposable
{
    /// <summary>Number of images.</summary>
    public int Count => Lengths.Length;

    /// <summary>Each image's codes as an array (one copy of the tensor to the CPU).</summary>
    public long[][] Rows()
    {
        long width = Codes.shape[1];
        var all = Codes.cpu().data<long>().ToArray();
        return Lengths.Select((n, i) => all.AsSpan((int)(i * width), (int)n).ToArray()).ToArray();
    }

    /// <summary>Codes of rows of possibly different lengths, padded with −1.</summary>
    public static VisualCodes FromRows(IReadOnlyList<long[]> rows, Device? device = null)
    {
        int width = Math.Max(1, rows.Count == 0 ? 1 : rows.Max(r => r.Length));
        var data = new long[rows.Count * width];
        Array.Fill(data, -1L);
        for (int i = 0; i < rows.Count; i++) rows[i].CopyTo(data, i * width);
        return new VisualCodes(tensor(data, new long[] { rows.Count, width }, device: device), rows.Select(r => (long)r.Length).ToArray());
    }

    /// <summary>Codes of equal length [B, L] (every image L codes).</summary>
    public static VisualCodes Fixed(Tensor codes) => new(codes, Enumerable.Repeat(codes.shape[1], (int)codes.shape[0]).ToArray());

    public void Dispose() => Codes.Dispose();
}

/// <summary>An image tokenizer as a language model sees it.</summary>
public interface IVisualTokenizer
{
    /// <summary>The codes of images [B, C, H, W] (values in [−1, 1]), as long as each image needs.</summary>
    VisualCodes EncodeTokens(Tensor images);

    /// <summary>Images [B, C, H, W] decoded from codes (any lengths between the bounds).</summary>
    Tensor DecodeTokens(VisualCodes codes);

    /// <summary>Number of distinct codes.</summary>
    long CodebookSize { get; }

    /// <summary>The fewest codes an image can take.</summary>
    int MinCodesPerImage { get; }

    /// <summary>The most codes an image can take.</summary>
    int MaxCodesPerImage { get; }

    /// <summary>The image side it reads and writes.</summary>
    int ImageSize { get; }
}

/// <summary>Helpers over any visual tokenizer.</summary>
public static class VisualTokenizers
{
    /// <summary>The codes of many images [N, C, H, W], encoded <paramref name="chunk"/> at a time on <paramref name="device"/> (rows of any
    /// lengths).</summary>
    public static VisualCodes EncodeAll(this IVisualTokenizer tokenizer, Tensor images, Device device, int chunk = 256)
    {
        if (chunk < 1) throw new ArgumentOutOfRangeException(nameof(chunk), chunk, "expected a positive chunk size");
        var rows = new List<long[]>();
        for (long start = 0; start < images.shape[0]; start += chunk)
            Kit.Core.Scopes.Run(() =>
            {
                using var codes = tokenizer.EncodeTokens(images.narrow(0, start, Math.Min(chunk, images.shape[0] - start)).to(device));
                rows.AddRange(codes.Rows());
            });
        return VisualCodes.FromRows(rows);
    }
}
