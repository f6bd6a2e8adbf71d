// A batch of images as the models consume it: [B, C, H, W] floats in [−1, 1], with captions, masks and
// labels alongside. Owns its tensors: dispose it (or create it inside a dispose scope).
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Data;

/// <summary>Images [B, C, H, W] in [−1, 1]; captions; optional class masks [B, H, W] and labels [B].</summary>
public sealed class ImageBatch : IDisposable
{
    public ImageBatch(Tensor images, IReadOnlyList<string> captions, Tensor? masks = null, Tensor? labels = null,
        IReadOnlyList<ShapesScene>? scenes = null)
    {
        if (images.dim() != 4) throw new ArgumentException($"images must be [B, C, H, W]; got shape [{string.Join(", ", images.shape)}].",
            nameof(images));
        if (captions.Count != images.shape[0]) throw new ArgumentException($"captions has {captions.Count} entries for " +
            $"{images.shape[0]} images.", nameof(captions));
        Images = images; Captions = captions; Masks = masks; Labels = labels; Scenes = scenes;
    }

    /// <summary>[B, C, H, W] float32 in [−1, 1].</summary>
    public Tensor Images { get; }
    /// <summary>One caption per image.</summary>
    public IReadOnlyList<string> Captions { get; }
    /// <summary>[B, H, W] int64 class masks (Shapes: 0 = background, else shape + 1); null for datasets without masks.</summary>
    public Tensor? Masks { get; }
    /// <summary>[B] int64 labels (Fashion-MNIST: class; Shapes: the first object's shape).</summary>
    public Tensor? Labels { get; }
    /// <summary>The Shapes scenes behind the images (null for other datasets).</summary>
    public IReadOnlyList<ShapesScene>? Scenes { get; }
    /// <summary>Number of images.</summary>
    public int Count => (int)Images.shape[0];

    /// <summary>Moves the tensors to <paramref name="device"/> (a new batch; this one keeps its tensors).</summary>
    public ImageBatch To(Device device) => new(Images.to(device), Captions, Masks?.to(device), Labels?.to(device), Scenes);

    /// <summary>Converts H×W×C bytes (0–255) of several images into a [B, C, H, W] tensor in [−1, 1].</summary>
    public static Tensor ToTensor(IReadOnlyList<byte[]> pixels, int channels, int height, int width)
    {
        int plane = height * width, per = plane * channels;
        var data = new float[pixels.Count * per];
        for (int b = 0; b < pixels.Count; b++)
        {
            var p = pixels[b];
            if (p.Length != per) throw new ArgumentException($"image {b} has {p.Length} bytes; expected {height}×{width}×{channels} = " +
                $"{per}.", nameof(pixels));
            for (int i = 0; i < plane; i++)
                for (int c = 0; c < channels; c++)
                    data[b * per + c * plane + i] = p[i * channels + c] / 127.5f - 1f; // HWC bytes → CHW floats
        }
        return tensor(data, new long[] { pixels.Count, channels, height, width });
    }

    public void Dispose()
    {
        Images.Dispose(); Masks?.Dispose(); Labels?.Dispose();
    }
}
