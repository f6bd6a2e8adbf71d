// Minimal ELF64 little-endian reader: just what the kit needs to find symbol-version requirements
// (.gnu.version_r), version definitions (.gnu.version_d), dynamic symbols and their relocations.
using System.Buffers.Binary;
using System.Text;

namespace Kit.Core.Native;

/// <summary>One version a shared library requires from another (an Elf64_Vernaux entry).</summary>
/// <param name="File">The library that must provide it, e.g. "libstdc++.so.6".</param>
/// <param name="Name">The version name, e.g. "GLIBCXX_3.4.32".</param>
/// <param name="Flags">vna_flags; bit 0x2 (VER_FLG_WEAK) makes a missing version a warning, not an error.</param>
/// <param name="Index">vna_other: the index symbols use in .gnu.version to point at this version.</param>
/// <param name="FlagsOffset">File offset of the 16-bit vna_flags field.</param>
public sealed record VersionNeed(string File, string Name, ushort Flags, ushort Index, long FlagsOffset)
{
    /// <summary>True when VER_FLG_WEAK is set.</summary>
    public bool IsWeak => (Flags & ElfFile.VerFlagWeak) != 0;
}

/// <summary>A dynamic symbol with its version index and whether any relocation refers to it.</summary>
public sealed record DynamicSymbol(string Name, int TableIndex, ushort VersionIndex, bool IsDefined, bool IsRelocated);

/// <summary>Read-only view of the parts of an ELF64 little-endian shared object the kit inspects.</summary>
public sealed class ElfFile
{
    public const ushort VerFlagWeak = 0x2;
    const uint ShtRela = 4, ShtRel = 9, ShtDynsym = 11;
    const uint ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;

    readonly byte[] _bytes;
    readonly List<Section> _sections = new();

    sealed record Section(int Index, uint Type, long Offset, long Size, uint Link, uint Info, long EntrySize);

    /// <summary>Where the bytes came from (for error messages).</summary>
    public string Source { get; }

    public ElfFile(byte[] bytes, string source)
    {
        _bytes = bytes;
        Source = source;
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
            throw new InvalidDataException($"{source}: not an ELF file (expected the magic bytes 7F 45 4C 46 at offset 0).");
        if (bytes[4] != 2 || bytes[5] != 1)
            throw new InvalidDataException($"{source}: ELF class {bytes[4]} / data encoding {bytes[5]} is not supported (expected " +
                $"64-bit little-endian: 2 / 1).");
        long shoff = I64(0x28);
        int shentsize = U16(0x3A), shnum = U16(0x3C);
        if (shoff <= 0 || shnum == 0)
            throw new InvalidDataException($"{source}: has no section headers (stripped with --strip-sections?); the kit needs them to " +
                $"find .gnu.version_r.");
        if (shentsize != 64 || shoff + (long)shnum * shentsize > bytes.Length)
            throw new InvalidDataException($"{source}: section header table (offset {shoff}, {shnum} × {shentsize} bytes) does not fit " +
                $"the {bytes.Length}-byte file; the file is truncated or corrupt.");
        for (int i = 0; i < shnum; i++)
        {
            long h = shoff + (long)i * shentsize;
            var s = new Section(i, U32(h + 4), I64(h + 0x18), I64(h + 0x20), U32(h + 0x28), U32(h + 0x2C), I64(h + 0x38));
            if (s.Type != 8 /* SHT_NOBITS */ && (s.Offset < 0 || s.Offset + s.Size > bytes.Length))
                throw new InvalidDataException($"{source}: section {i} (offset {s.Offset}, size {s.Size}) runs past the end of the " +
                    $"{bytes.Length}-byte file; the file is truncated or corrupt.");
            _sections.Add(s);
        }
    }

    public static ElfFile Read(string path) => new(File.ReadAllBytes(path), path);

    /// <summary>Every version this object requires (.gnu.version_r), in file order.</summary>
    public IReadOnlyList<VersionNeed> VersionNeeds()
    {
        var result = new List<VersionNeed>();
        foreach (var sec in _sections.Where(s => s.Type == ShtGnuVerneed))
        {
            var strtab = _sections[(int)sec.Link];
            long entry = sec.Offset;
            for (uint n = 0; n < sec.Info; n++)
            {
                // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32
                int count = U16(entry + 2);
                string file = Str(strtab, U32(entry + 4));
                long aux = entry + U32(entry + 8);
                for (int a = 0; a < count; a++)
                {
                    // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32
                    result.Add(new VersionNeed(file, Str(strtab, U32(aux + 8)), U16(aux + 4), U16(aux + 6), aux + 4));
                    uint nextAux = U32(aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }
                uint next = U32(entry + 12);
                if (next == 0) break;
                entry += next;
            }
        }
        return result;
    }

    /// <summary>Every version name this object defines (.gnu.version_d), e.g. a libstdc++'s GLIBCXX_3.4.x.</summary>
    public IReadOnlySet<string> VersionDefinitions()
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var sec in _sections.Where(s => s.Type == ShtGnuVerdef))
        {
            var strtab = _sections[(int)sec.Link];
            long entry = sec.Offset;
            for (uint n = 0; n < sec.Info; n++)
            {
                // Elf64_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32
                int count = U16(entry + 6);
                if (count > 0) result.Add(Str(strtab, U32(entry + U32(entry + 12)))); // first Verdaux names the version
                uint next = U32(entry + 16);
                if (next == 0) break;
                entry += next;
            }
        }
        return result;
    }

    /// <summary>The dynamic symbols with their version index and whether a relocation uses them.</summary>
    public IReadOnlyList<DynamicSymbol> DynamicSymbols()
    {
        var dynsym = _sections.FirstOrDefault(s => s.Type == ShtDynsym);
        if (dynsym is null) return Array.Empty<DynamicSymbol>();
        var strtab = _sections[(int)dynsym.Link];
        var versym = _sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
        int count = (int)(dynsym.Size / 24);
        var relocated = new HashSet<long>();
        foreach (var rel in _sections.Where(s => (s.Type == ShtRela || s.Type == ShtRel) && s.Link == dynsym.Index))
        {
            long size = rel.Type == ShtRela ? 24 : 16;
            for (long e = rel.Offset; e + size <= rel.Offset + rel.Size; e += size)
                relocated.Add((long)(U64(e + 8) >> 32)); // r_info: symbol index in the high 32 bits
        }
        var result = new List<DynamicSymbol>(count);
        for (int i = 0; i < count; i++)
        {
            long s = dynsym.Offset + i * 24L; // Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16, ...
            ushort version = versym is null ? (ushort)0 : (ushort)(U16(versym.Offset + 2L * i) & 0x7fff);
            result.Add(new DynamicSymbol(Str(strtab, U32(s)), i, version, U16(s + 6) != 0, relocated.Contains(i)));
        }
        return result;
    }

    ushort U16(long at) => BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan(checked((int)at), 2));
    uint U32(long at) => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(checked((int)at), 4));
    ulong U64(long at) => BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan(checked((int)at), 8));
    long I64(long at) => (long)U64(at);

    string Str(Section strtab, uint offset)
    {
        long start = strtab.Offset + offset;
        if (offset >= strtab.Size) throw new InvalidDataException($"{Source}: string offset {offset} lies outside its " +
            $"{strtab.Size}-byte string table; the file is corrupt.");
        int end = Array.IndexOf(_bytes, (byte)0, checked((int)start));
        return Encoding.ASCII.GetString(_bytes, (int)start, (end < 0 ? _bytes.Length : end) - (int)start);
    }
}
