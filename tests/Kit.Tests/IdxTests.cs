// IDX files and the Fashion-MNIST loader on small files the tests write themselves.
using Kit.Data;
using Kit.Tokenizers;

namespace Kit.Tests;

public sealed class IdxTests : TempDirectoryTest
{
    [Theory]
    [InlineData("images.idx")]
    [InlineData("images.idx.gz")]
    public void ReadsWhatWasWritten(string name)
    {
        var path = Path.Combine(Dir, name);
        var data = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(i * 7)).ToArray();
        IdxFile.Write(path, new[] { 2, 3, 4 }, data);
        var read = IdxFile.Read(path);
        Assert.Equal(new[] { 2, 3, 4 }, read.Dimensions);
        Assert.Equal(data, read.Data);
        // the header by hand: 00 00 08 03, then big-endian 2, 3, 4
        if (!name.EndsWith(".gz")) Assert.Equal(new byte[] { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4 }, File.ReadAllBytes(path)[..16]);
    }

    [Fact]
    public void RejectsATruncatedFile()
    {
        var path = Path.Combine(Dir, "cut.idx");
        IdxFile.Write(path, new[] { 10, 28, 28 }, new byte[10 * 28 * 28]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<InvalidDataException>(() => IdxFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void RejectsAWrongMagicNumber()
    {
        var path = Path.Combine(Dir, "bad.idx");
        File.WriteAllBytes(path, new byte[] { 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 5 });
        var e = Assert.Throws<InvalidDataException>(() => IdxFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("0x12345678", e.Message);
    }

    [Fact]
    public void RejectsACorruptGzipStream()
    {
        var path = Path.Combine(Dir, "bad.idx.gz");
        IdxFile.Write(path, new[] { 100 }, Enumerable.Range(0, 100).Select(i => (byte)i).ToArray());
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => IdxFile.Read(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void MissingFashionMnistSaysWhereItLookedAndHowToInstall()
    {
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(Split.Train, searchDirectories: new[] { Dir }));
        Assert.Contains(Dir, e.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
    }

    [Fact]
    public void LoadsFashionMnistFilesPaddedWithCaptions()
    {
        var rng = new Random(1);
        byte[] Images(int n) { var b = new byte[n * 28 * 28]; rng.NextBytes(b); return b; }
        var train = Images(20);
        IdxFile.Write(Path.Combine(Dir, "train-images-idx3-ubyte.gz"), new[] { 20, 28, 28 }, train);
        IdxFile.Write(Path.Combine(Dir, "train-labels-idx1-ubyte.gz"), new[] { 20 }, Enumerable.Range(0, 20).Select(i => (byte)(i % 10)).ToArray());
        IdxFile.Write(Path.Combine(Dir, "t10k-images-idx3-ubyte"), new[] { 5, 28, 28 }, Images(5));
        IdxFile.Write(Path.Combine(Dir, "t10k-labels-idx1-ubyte"), new[] { 5 }, new byte[] { 7, 9, 0, 1, 2 });

        var ds = FashionMnist.Load(Split.Train, searchDirectories: new[] { Dir });
        Assert.Equal(18, ds.Count); // 90% of the training file; the rest is validation
        Assert.Equal(2, FashionMnist.Load(Split.Validation, searchDirectories: new[] { Dir }).Count);
        Assert.Equal(32, ds.Resolution);
        Assert.Equal(train[0], ds.Images[0][2 * 32 + 2]);          // 28×28 centred in 32×32: offset 2
        Assert.Equal(train[27 * 28 + 27], ds.Images[0][29 * 32 + 29]);
        Assert.Equal(0, ds.Images[0][0]);

        var test = FashionMnist.Load(Split.Test, searchDirectories: new[] { Dir });
        using var batch = test.Batch(new[] { 0, 1 });
        Assert.Equal(new long[] { 2, 1, 32, 32 }, batch.Images.shape);
        Assert.Equal(new[] { "a photo of a sneaker", "a photo of an ankle boot" }, batch.Captions);
    }

    [Fact]
    public void TokenizersTrainOnFashionMnistAsGreyRgbUnderTheirOwnCacheKey()
    {
        var pixels = Enumerable.Range(0, 3 * 28 * 28).Select(i => (byte)(i * 13)).ToArray();
        IdxFile.Write(Path.Combine(Dir, "train-images-idx3-ubyte"), new[] { 3, 28, 28 }, new byte[3 * 784]);
        IdxFile.Write(Path.Combine(Dir, "train-labels-idx1-ubyte"), new[] { 3 }, new byte[3]);
        IdxFile.Write(Path.Combine(Dir, "t10k-images-idx3-ubyte"), new[] { 3, 28, 28 }, pixels);
        IdxFile.Write(Path.Combine(Dir, "t10k-labels-idx1-ubyte"), new[] { 3 }, new byte[] { 4, 8, 1 });
        var previous = Environment.GetEnvironmentVariable(FashionMnist.EnvironmentVariable);
        Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, Dir);
        try
        {
            var fashion = new TokenizerTrainingConfig(Data: TokenizerData.FashionMnist);
            using var batch = TokenizerTraining.Images(fashion, Split.Test, 2);
            Assert.Equal(new long[] { 2, 3, 32, 32 }, batch.Images.shape);
            Assert.Equal(new[] { "a photo of a coat", "a photo of a bag" }, batch.Captions);
            // Pixel (0, 0) of the first image lands at (2, 2), byte b as b / 127.5 − 1, the same in all three channels.
            float expected = pixels[0] / 127.5f - 1;
            for (int c = 0; c < 3; c++) Assert.Equal(expected, batch.Images[0, c, 2, 2].item<float>(), 5);
            Assert.Throws<ArgumentException>(() => TokenizerTraining.Images(fashion with { Resolution = 64 }, Split.Test, 2));
            // The data is part of the cache key: a Fashion-MNIST tokenizer is never loaded for Shapes.
            Assert.NotEqual(Kit.Training.ArtifactCache.PathFor("tokenizer", new TokenizerTrainingConfig(), 1), Kit.Training.ArtifactCache.PathFor("tokenizer", fashion, 1));
        }
        finally { Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, previous); }
    }

    [Fact]
    public void AnIncompleteFolderNamedByKitDataIsAnErrorNamingTheMissingFile()
    {
        IdxFile.Write(Path.Combine(Dir, "train-images-idx3-ubyte"), new[] { 2, 28, 28 }, new byte[2 * 784]);
        IdxFile.Write(Path.Combine(Dir, "train-labels-idx1-ubyte"), new[] { 2 }, new byte[2]);
        IdxFile.Write(Path.Combine(Dir, "t10k-images-idx3-ubyte"), new[] { 2, 28, 28 }, new byte[2 * 784]);
        var previous = Environment.GetEnvironmentVariable(FashionMnist.EnvironmentVariable);
        Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, Dir);
        try
        {
            // Even where the system holds a full copy, the folder the user named is the one that counts.
            var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Locate());
            Assert.Contains("lacks t10k-labels-idx1-ubyte(.gz)", e.Message);
            Assert.DoesNotContain("train-images", e.Message);
            IdxFile.Write(Path.Combine(Dir, "t10k-labels-idx1-ubyte"), new[] { 2 }, new byte[2]);
            Assert.Equal(Dir, FashionMnist.Locate());
            IdxFile.Write(Path.Combine(Dir, "t10k-images-idx3-ubyte"), new[] { 2, 27, 27 }, new byte[2 * 729]);
            var size = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(Split.Test));
            Assert.Contains("27×27 images; Fashion-MNIST's are 28×28", size.Message);
        }
        finally { Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, previous); }
    }

    [Fact]
    public void RejectsLabelsThatDoNotMatchTheImages()
    {
        IdxFile.Write(Path.Combine(Dir, "train-images-idx3-ubyte"), new[] { 4, 28, 28 }, new byte[4 * 784]);
        IdxFile.Write(Path.Combine(Dir, "train-labels-idx1-ubyte"), new[] { 3 }, new byte[3]);
        IdxFile.Write(Path.Combine(Dir, "t10k-images-idx3-ubyte"), new[] { 1, 28, 28 }, new byte[784]);
        IdxFile.Write(Path.Combine(Dir, "t10k-labels-idx1-ubyte"), new[] { 1 }, new byte[1]);
        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(Split.Train, searchDirectories: new[] { Dir }));
        Assert.Contains("3 labels for 4 images", e.Message);
    }
}
