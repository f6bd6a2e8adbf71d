// Fashion-MNIST (Zalando, 70,000 28×28 grey images of 10 clothing classes) from its IDX files. Optional:
// Debian's dataset-fashion-mnist package installs them; the kit never downloads anything.
using Kit.Core;
using static TorchSharp.torch;

namespace Kit.Data;

/// <summary>Loads Fashion-MNIST images with class labels and captions ("a photo of a sneaker").</summary>
public sealed class FashionMnist
{
    /// <summary>Environment variable naming a folder that holds the IDX files (checked first).</summary>
    public const string EnvironmentVariable = "KIT_DATA";
    /// <summary>Where Debian's dataset-fashion-mnist package installs the files.</summary>
    public const string SystemDirectory = "/usr/share/datasets/fashion-mnist";
    /// <summary>The one command that installs the files.</summary>
    public const string InstallCommand = "sudo apt-get install dataset-fashion-mnist";

    /// <summary>Class names in label order.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        new[] { "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot" };

    /// <summary>Images as H×W bytes each (28×28, or 32×32 when padded).</summary>
    public IReadOnlyList<byte[]> Images { get; }
    /// <summary>Class index per image.</summary>
    public IReadOnlyList<int> Labels { get; }
    /// <summary>Image side in pixels.</summary>
    public int Resolution { get; }
    /// <summary>The folder the files were read from.</summary>
    public string Directory { get; }

    FashionMnist(IReadOnlyList<byte[]> images, IReadOnlyList<int> labels, int resolution, string directory)
    {
        Images = images; Labels = labels; Resolution = resolution; Directory = directory;
    }

    /// <summary>"a photo of a sneaker" / "a photo of an ankle boot".</summary>
    public static string Caption(int label) =>
        $"a photo of {("aeiou".Contains(ClassNames[label][0]) ? "an" : "a")} {ClassNames[label]}";

    /// <summary>
    /// Folders searched, in order: $KIT_DATA (and its fashion-mnist subfolder), data/fashion-mnist of the repository, the
    /// Debian folder. KIT_OPTIONAL_DATA=ignore hides the installed copies (the repository's and Debian's); a folder named
    /// by KIT_DATA is still used, since the variable names it on purpose.
    /// </summary>
    public static IReadOnlyList<string> SearchDirectories()
    {
        var dirs = new List<string>();
        if (KitData is string env) { dirs.Add(env); dirs.Add(Path.Combine(env, "fashion-mnist")); }
        if (KitEnvironment.OptionalDataHidden) return dirs;
        if (KitPaths.RepositoryRoot is string root) dirs.Add(Path.Combine(root, "data", "fashion-mnist"));
        dirs.Add(SystemDirectory);
        return dirs.Distinct().ToList();
    }

    // $KIT_DATA as an absolute folder (a relative one against the directory the process started in), or null when unset.
    static string? KitData => Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env
        && !string.IsNullOrWhiteSpace(env)
        ? KitEnvironment.AbsoluteFolder(env) : null;

    /// <summary>Why the files are not there, for notebooks that skip a part: hidden by KIT_OPTIONAL_DATA, or not installed.</summary>
    public static string Absence => KitEnvironment.OptionalDataHidden
        ? $"hidden by {KitEnvironment.OptionalData}=ignore"
        : $"not installed ({InstallCommand})";

    static readonly string[] FileNames = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte" };

    /// <summary>
    /// The first folder holding all four files, or null. A folder the user named in $KIT_DATA must hold them (itself or
    /// its fashion-mnist subfolder): one that lacks any is an error naming what is missing, never a fall-through to
    /// another copy.
    /// </summary>
    public static string? Locate(IReadOnlyList<string>? searchDirectories = null)
    {
        if (searchDirectories is null && KitData is string env)
        {
            var named = new[] { env, Path.Combine(env, "fashion-mnist") };
            var complete = named.FirstOrDefault(d => FileNames.All(f => FindFile(d, f) is not null));
            if (complete is not null) return complete;
            var best = named.OrderByDescending(d => FileNames.Count(f => FindFile(d, f) is not null)).First();
            var missing = FileNames.Where(f => FindFile(best, f) is null).Select(f => f + "(.gz)");
            throw new FileNotFoundException($"{EnvironmentVariable}={env}: {best} lacks {string.Join(", ", missing)} (Fashion-MNIST's " +
                $"four IDX files). " +
                $"Point {EnvironmentVariable} at a folder holding all four, or unset it to use the installed copy ({InstallCommand}).");
        }
        return (searchDirectories ?? SearchDirectories()).FirstOrDefault(d => FileNames.All(f => FindFile(d, f) is not null));
    }

    /// <summary>True when the files are installed.</summary>
    public static bool IsAvailable => Locate() is not null;

    /// <summary>
    /// Loads a split: Train = the first 54,000 training images, Validation = the last 6,000, Test = the
    /// 10,000 test images. <paramref name="padTo32"/> centres 28×28 images in 32×32 (divisible by 8 for
    /// tokenizers). <paramref name="limit"/> keeps the first N.
    /// </summary>
    public static FashionMnist Load(Split split = Split.Train, bool padTo32 = true, int? limit = null,
        IReadOnlyList<string>? searchDirectories = null)
    {
        var dir = Locate(searchDirectories) ?? throw new FileNotFoundException(searchDirectories is null
            && KitEnvironment.OptionalDataHidden
            ? $"Fashion-MNIST is hidden by {KitEnvironment.OptionalData}=ignore (the run behaves as if it were not installed); unset " +
                $"it to use the installed copy, or name a folder with {EnvironmentVariable}."
            : "Fashion-MNIST is not installed. Looked for train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), " +
            $"t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) in: " +
                $"{string.Join(", ", searchDirectories ?? SearchDirectories())}. " +
            $"Install them with: {InstallCommand}  (or set {EnvironmentVariable} to a folder holding them).");
        string prefix = split == Split.Test ? "t10k" : "train";
        var images = IdxFile.Read(FindFile(dir, $"{prefix}-images-idx3-ubyte")!);
        var labels = IdxFile.Read(FindFile(dir, $"{prefix}-labels-idx1-ubyte")!);
        if (images.Dimensions.Length != 3) throw new InvalidDataException($"{dir}/{prefix}-images: expected 3 dimensions [N, 28, 28]; " +
            $"found [{string.Join(", ", images.Dimensions)}].");
        if (labels.Dimensions.Length != 1 || labels.Dimensions[0] != images.Dimensions[0])
            throw new InvalidDataException($"{dir}/{prefix}-labels: {string.Join("×", labels.Dimensions)} labels for " +
                $"{images.Dimensions[0]} images; the files do not belong together.");
        int count = images.Dimensions[0], h = images.Dimensions[1], w = images.Dimensions[2];
        if (h != 28 || w != 28) throw new InvalidDataException($"{dir}/{prefix}-images: {h}×{w} images; Fashion-MNIST's are 28×28.");
        int expected = prefix == "t10k" ? 10_000 : 60_000;
        if (count != expected)
            Console.Error.WriteLine($"kit: {dir}/{prefix}-images holds {count:N0} images, not Fashion-MNIST's {expected:N0}: these are " +
                $"not the standard files (loaded as they are).");
        int first = 0, end = count;
        if (split == Split.Train) end = count * 9 / 10;
        if (split == Split.Validation) first = count * 9 / 10;
        if (limit is int l) end = Math.Min(end, first + l);
        int side = padTo32 ? Math.Max(32, Math.Max(h, w)) : h;
        var list = new List<byte[]>(end - first);
        var labelList = new List<int>(end - first);
        for (int i = first; i < end; i++)
        {
            var img = new byte[side * side];
            int oy = (side - h) / 2, ox = (side - w) / 2;
            for (int y = 0; y < h; y++)
                Array.Copy(images.Data, (long)i * h * w + y * w, img, (oy + y) * side + ox, w);
            list.Add(img);
            int label = labels.Data[i];
            if (label >= ClassNames.Count) throw new InvalidDataException($"{dir}/{prefix}-labels: label {label} at index {i} is not a " +
                $"class (expected 0–9).");
            labelList.Add(label);
        }
        return new FashionMnist(list, labelList, side, dir);
    }

    /// <summary>Number of images.</summary>
    public int Count => Images.Count;

    /// <summary>Images <paramref name="indices"/> as a batch: [B, 1, H, W] (or 3 channels, grey repeated) in [−1, 1].</summary>
    public ImageBatch Batch(IEnumerable<int> indices, int channels = 1)
    {
        if (channels != 1 && channels != 3) throw new ArgumentOutOfRangeException(nameof(channels), channels,
            "expected 1 (grey) or 3 (grey repeated as RGB)");
        var idx = indices.ToList();
        var pixels = idx.Select(i => channels == 1 ? Images[i] : Images[i].SelectMany(v => new[] { v, v, v }).ToArray()).ToList();
        var images = ImageBatch.ToTensor(pixels, channels, Resolution, Resolution);
        var labels = tensor(idx.Select(i => (long)Labels[i]).ToArray());
        return new ImageBatch(images, idx.Select(i => Caption(Labels[i])).ToList(), null, labels);
    }

    static string? FindFile(string dir, string name) =>
        new[] { Path.Combine(dir, name + ".gz"), Path.Combine(dir, name) }.FirstOrDefault(File.Exists);
}
