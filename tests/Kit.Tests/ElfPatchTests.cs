// The native-library fix, checked on a pristine copy of TorchSharp's real libLibTorchSharp.so (from the
// NuGet cache, which the kit never modifies) and on damaged files.
using System.Text;
using Kit.Core.Native;

namespace Kit.Tests;

public class ElfPatchTests
{
    static string PristineLibrary()
    {
        var version = typeof(TorchSharp.torch).Assembly.GetName().Version!;
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(root, "torchsharp", $"{version.Major}.{version.Minor}.{version.Build}", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"TorchSharp's native library should be in the NuGet cache at {path}");
        return path;
    }

    [Fact]
    public void ReadsTheVersionRequirementsOfTheRealLibrary()
    {
        var elf = ElfFile.Read(PristineLibrary());
        var needs = elf.VersionNeeds();
        var need = Assert.Single(needs, n => n.Name == "GLIBCXX_3.4.32");
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.False(need.IsWeak);
        // The only dynamic symbol bound to that version is the never-called iostream initialiser.
        var bound = elf.DynamicSymbols().Where(s => s.VersionIndex == need.Index).ToList();
        var symbol = Assert.Single(bound);
        Assert.Equal("_ZSt21ios_base_library_initv", symbol.Name);
        Assert.False(symbol.IsDefined);
        Assert.False(symbol.IsRelocated);
    }

    [Fact]
    public void WeakeningSetsExactlyTheFlagAndChangesNothingElse()
    {
        var path = PristineLibrary();
        var original = File.ReadAllBytes(path);
        var elf = new ElfFile(original, path);
        var target = elf.VersionNeeds().Single(n => n.Name == "GLIBCXX_3.4.32");
        var result = ElfVersionPatcher.Weaken(original, path, new[] { target });

        Assert.Equal(original.Length, result.Bytes.Length);
        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != result.Bytes[i]).ToList();
        Assert.Equal(new[] { (int)target.FlagsOffset }, changed); // VER_FLG_WEAK (0x2) sits in the low byte
        Assert.Equal(original[target.FlagsOffset] | 0x2, result.Bytes[target.FlagsOffset]);

        var reread = new ElfFile(result.Bytes, "patched").VersionNeeds();
        Assert.True(reread.Single(n => n.Name == "GLIBCXX_3.4.32").IsWeak);
        Assert.All(reread.Where(n => n.Name != "GLIBCXX_3.4.32"), n => Assert.False(n.IsWeak));
        Assert.Equal(File.ReadAllBytes(path), original); // the cache copy is untouched
    }

    [Fact]
    public void RefusesToWeakenAVersionWhoseSymbolsAreUsed()
    {
        var path = PristineLibrary();
        var bytes = File.ReadAllBytes(path);
        var used = new ElfFile(bytes, path).VersionNeeds().Single(n => n.Name == "GLIBCXX_3.4.30"); // std:: calls go through the PLT
        var e = Assert.Throws<InvalidOperationException>(() => ElfVersionPatcher.Weaken(bytes, path, new[] { used }));
        Assert.Contains("GLIBCXX_3.4.30", e.Message);
    }

    [Fact]
    public void MissingVersionsAreThoseTheSystemDoesNotDefine()
    {
        var elf = ElfFile.Read(PristineLibrary());
        var needed = elf.VersionNeeds().Where(n => n.File == "libstdc++.so.6").Select(n => n.Name).ToHashSet();
        var without = needed.Where(n => n != "GLIBCXX_3.4.32").ToHashSet();
        var missing = ElfVersionPatcher.MissingVersions(elf, new Dictionary<string, IReadOnlySet<string>> { ["libstdc++.so.6"] = without });
        Assert.Equal(new[] { "GLIBCXX_3.4.32" }, missing.Select(m => m.Name));
        Assert.Empty(ElfVersionPatcher.MissingVersions(elf, new Dictionary<string, IReadOnlySet<string>> { ["libstdc++.so.6"] = needed }));
    }

    [Fact]
    public void SystemVersionDefinitionsAppearAsStringsInTheLibrary()
    {
        var path = SystemLibraries.Find("libstdc++.so.6");
        Assert.NotNull(path);
        var bytes = File.ReadAllBytes(path!);
        var defs = ElfFile.Read(path!).VersionDefinitions();
        Assert.Contains("GLIBCXX_3.4", defs);
        var text = Encoding.ASCII.GetString(bytes);
        Assert.All(defs, d => Assert.Contains(d + "\0", text)); // a naive scan of the string table agrees
    }

    [Fact]
    public void TheRunningProcessLoadedTorch()
    {
        // The module initializer ran before this test touched torch; a matmul proves the library loads.
        using var a = TorchSharp.torch.tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 });
        using var product = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, product.data<float>().ToArray());
        Assert.DoesNotContain("failed", TorchNativeLoader.Report.Note);
    }

    [Fact]
    public void DamagedFilesGiveClearErrors()
    {
        var notElf = Assert.Throws<InvalidDataException>(() => new ElfFile(Encoding.ASCII.GetBytes(new string('x', 100)), "fake.so"));
        Assert.Contains("not an ELF file", notElf.Message);
        var truncated = File.ReadAllBytes(PristineLibrary())[..100_000];
        var e = Assert.Throws<InvalidDataException>(() => new ElfFile(truncated, "cut.so"));
        Assert.Contains("cut.so", e.Message);
        Assert.Contains("truncated", e.Message);
    }
}
