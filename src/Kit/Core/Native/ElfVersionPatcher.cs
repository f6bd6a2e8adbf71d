// Makes a shared library load on a system whose libstdc++ (or libc) lacks a symbol version the library
// asks for but never uses — TorchSharp 0.107's libLibTorchSharp.so asks for GLIBCXX_3.4.32 only through
// `_ZSt21ios_base_library_initv`, which GCC 13's <iostream> references to force the dependency and
// nothing calls. Setting VER_FLG_WEAK on that version requirement turns ld.so's hard error into a
// silent pass; every other byte stays the same.
namespace Kit.Core.Native;

/// <summary>What a patch did: the new bytes and which version requirements became weak.</summary>
public sealed record ElfPatchResult(byte[] Bytes, IReadOnlyList<VersionNeed> Weakened);

/// <summary>Sets VER_FLG_WEAK on version requirements that the system cannot satisfy, when that is safe.</summary>
public static class ElfVersionPatcher
{
    /// <summary>
    /// The requirements of <paramref name="library"/> that <paramref name="available"/> (file name →
    /// versions that file defines) cannot satisfy. Files not in the map are not judged.
    /// </summary>
    public static IReadOnlyList<VersionNeed> MissingVersions(ElfFile library,
        IReadOnlyDictionary<string, IReadOnlySet<string>> available) =>
        library.VersionNeeds()
            .Where(n => !n.IsWeak && available.TryGetValue(n.File, out var defs) && !defs.Contains(n.Name))
            .ToList();

    /// <summary>
    /// Returns a copy of <paramref name="bytes"/> with VER_FLG_WEAK set on each requirement in
    /// <paramref name="versions"/>. Refuses (InvalidOperationException) when a symbol bound to such a
    /// version is defined here or used by a relocation: then the library really needs that version and a
    /// weak flag would only move the failure to a crash later.
    /// </summary>
    public static ElfPatchResult Weaken(byte[] bytes, string source, IEnumerable<VersionNeed> versions)
    {
        var elf = new ElfFile(bytes, source);
        var wanted = versions.ToList();
        var symbols = elf.DynamicSymbols();
        foreach (var need in wanted)
        {
            var used = symbols.Where(s => s.VersionIndex == need.Index && (s.IsDefined || s.IsRelocated)).Select(s => s.Name).ToList();
            if (used.Count > 0)
                throw new InvalidOperationException(
                    $"{source} needs {need.Name} from {need.File} for symbols it really uses ({string.Join(", ", used.Take(5))}); " +
                    $"marking it weak would not make it work. Install a {need.File} that provides {need.Name}.");
        }
        var copy = (byte[])bytes.Clone();
        foreach (var need in wanted)
        {
            ushort flags = (ushort)(need.Flags | ElfFile.VerFlagWeak);
            copy[need.FlagsOffset] = (byte)(flags & 0xff);
            copy[need.FlagsOffset + 1] = (byte)(flags >> 8);
        }
        return new ElfPatchResult(copy, wanted);
    }
}
