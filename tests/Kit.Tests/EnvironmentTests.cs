// The kit's environment variables as a careless user sets them: a mistyped value or name is an error naming it, relative
// folders mean the directory the command was run from, and KIT_OPTIONAL_DATA=ignore hides installed optional data.
using Kit.Core;
using Kit.Data;
using Kit.Language;

namespace Kit.Tests;

public sealed class EnvironmentTests : TempDirectoryTest
{
    // Sets variables for one test and puts them back afterwards.
    sealed class Variables : IDisposable
    {
        readonly Dictionary<string, string?> _before = new();
        public Variables(params (string Name, string? Value)[] set)
        {
            foreach (var (name, value) in set)
            {
                _before[name] = Environment.GetEnvironmentVariable(name);
                Environment.SetEnvironmentVariable(name, value);
            }
        }
        public void Dispose() { foreach (var (name, value) in _before) Environment.SetEnvironmentVariable(name, value); }
    }

    [Theory]
    [InlineData("KIT_MALLOC", "tcmalloc", "expected 'kit'")]
    [InlineData("KIT_SCALE", "quik", "expected 'quick', 'default' or 'full'")]
    [InlineData("KIT_OPTIONAL_DATA", "maybe", "expected 'use'")]
    [InlineData("KIT_DEVICE", "tpu", "expected 'auto', 'cpu'")]
    public void AnUnknownValueIsAnErrorNamingTheVariableTheValueAndWhatIsExpected(string name, string value, string expected)
    {
        using var _ = new Variables((name, value));
        var problem = Assert.Single(KitEnvironment.Problems(), p => p.StartsWith(name, StringComparison.Ordinal));
        Assert.Contains($"{name}='{value}'", problem);
        Assert.Contains(expected, problem);
        var e = Assert.Throws<ArgumentException>(KitRuntime.Describe); // every notebook's first cell runs it
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void AMistypedNameIsAnErrorThatSuggestsTheRightOne()
    {
        using var _ = new Variables(("KIT_SCAEL", "quick"));
        var problem = Assert.Single(KitEnvironment.Problems(), p => p.StartsWith("KIT_SCAEL", StringComparison.Ordinal));
        Assert.Contains("did you mean KIT_SCALE?", problem);
    }

    [Fact]
    public void GoodValuesAndEmptyOnesAreNoProblem()
    {
        using var _ = new Variables(("KIT_SCALE", " Quick "), ("KIT_MALLOC", "system"), ("KIT_OPTIONAL_DATA", "ignore"), ("KIT_DEVICE", "cuda:1"), ("KIT_CACHE", ""), ("KIT_DATA", Dir));
        var set = new[] { "KIT_SCALE", "KIT_MALLOC", "KIT_OPTIONAL_DATA", "KIT_DEVICE", "KIT_CACHE", "KIT_DATA" };
        Assert.DoesNotContain(KitEnvironment.Problems(), p => set.Any(n => p.StartsWith(n, StringComparison.Ordinal)));
    }

    [Fact]
    public void FolderVariablesThatAreFilesOrMissingAreRefused()
    {
        var file = Path.Combine(Dir, "a-file");
        File.WriteAllText(file, "x");
        using (new Variables(("KIT_CACHE", file)))
            Assert.Contains(KitEnvironment.Problems(), p => p.StartsWith("KIT_CACHE=", StringComparison.Ordinal) && p.Contains("is a file"));
        using (new Variables(("KIT_DATA", Path.Combine(Dir, "nowhere"))))
            Assert.Contains(KitEnvironment.Problems(), p => p.StartsWith("KIT_DATA=", StringComparison.Ordinal) && p.Contains("does not exist"));
    }

    [Fact]
    public void RelativeFoldersMeanTheDirectoryTheProcessStartedIn()
    {
        using var _ = new Variables(("KIT_CACHE", "relative-cache"));
        var expected = Path.Combine(KitEnvironment.StartDirectory, "relative-cache");
        var previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = Dir; // the notebook runner moves into the notebook's folder
        try { Assert.Equal(expected, KitPaths.CacheRoot); }
        finally { Environment.CurrentDirectory = previous; }
    }

    [Fact]
    public void AWritableFolderIsCheckedForBeingAFileForWritesAndForRoom()
    {
        var file = Path.Combine(Dir, "file");
        File.WriteAllText(file, "x");
        Assert.Contains("is a file", Assert.Throws<ArgumentException>(() => KitEnvironment.EnsureWritableFolder(file, "--out 'file'")).Message);
        var created = KitEnvironment.EnsureWritableFolder(Path.Combine(Dir, "new", "deeper"), "--out");
        Assert.True(Directory.Exists(created));
        Assert.Empty(Directory.GetFiles(created)); // the probe file is gone
        var full = Assert.Throws<ArgumentException>(() => KitEnvironment.EnsureWritableFolder(Dir, "KIT_CACHE='x'", minimumFreeBytes: long.MaxValue));
        Assert.Contains("MiB free", full.Message);
        Assert.Contains("KIT_CACHE='x'", full.Message);
        if (TestFolders.ReadOnlyFolder() is string readOnly)
            Assert.Contains("not writable", Assert.Throws<ArgumentException>(() => KitEnvironment.EnsureWritableFolder(readOnly, "--out")).Message);
    }

    [Fact]
    public void IgnoringOptionalDataHidesTheInstalledFashionMnistAndWordNetButNotAFolderNamedOnPurpose()
    {
        // A complete stand-in Fashion-MNIST folder: named by KIT_DATA it is used either way; as the only copy the search
        // would find without KIT_DATA, ignoring the optional data hides it.
        foreach (var (name, dims) in new[] { ("train-images-idx3-ubyte", new[] { 2, 28, 28 }), ("train-labels-idx1-ubyte", new[] { 2 }), ("t10k-images-idx3-ubyte", new[] { 2, 28, 28 }), ("t10k-labels-idx1-ubyte", new[] { 2 }) })
            IdxFile.Write(Path.Combine(Dir, name), dims, new byte[dims.Aggregate(1, (a, b) => a * b)]);
        using (new Variables(("KIT_DATA", Dir), ("KIT_OPTIONAL_DATA", "ignore")))
            Assert.Equal(Dir, FashionMnist.Locate());
        using (new Variables(("KIT_DATA", null), ("KIT_OPTIONAL_DATA", null)))
            Assert.Equal(Dir, FashionMnist.Locate(new[] { Dir }));
        using (new Variables(("KIT_DATA", null), ("KIT_OPTIONAL_DATA", "ignore")))
        {
            Assert.DoesNotContain(FashionMnist.SystemDirectory, FashionMnist.SearchDirectories());
            Assert.Empty(FashionMnist.SearchDirectories());
            Assert.Null(FashionMnist.Locate());
            Assert.False(FashionMnist.IsAvailable);
            Assert.Contains("KIT_OPTIONAL_DATA=ignore", Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(Split.Test)).Message);
            Assert.Null(WordNet.Installed);
            Assert.Contains("hidden by KIT_OPTIONAL_DATA=ignore", WordNet.Absence);
            Assert.Contains("WordNet: hidden by KIT_OPTIONAL_DATA=ignore", OptionalData.Describe());
            Assert.Contains("WordNet hidden", TextCorpus.Build(new TextCorpusConfig(Scenes: 20, WordNetLines: 10, HeldOutScenes: 5)).Source);
        }
    }
}

/// <summary>Folders for tests of what the kit refuses.</summary>
static class TestFolders
{
    /// <summary>An existing folder this process cannot write into (chmod 555 for a user; a read-only /sys for root), or null where there is none.</summary>
    public static string? ReadOnlyFolder()
    {
        if (Environment.UserName != "root")
        {
            var dir = Directory.CreateTempSubdirectory("kit-readonly-").FullName;
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            return dir;
        }
        try { File.WriteAllText("/sys/kit-write-probe", "x"); File.Delete("/sys/kit-write-probe"); return null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Directory.Exists("/sys") ? "/sys" : null; }
    }
}
