// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type
// byte (0x08 = unsigned byte), the number of dimensions, each dimension as a big-endian int32, then the
// data. Files are usually gzip-compressed; both forms are read.
using System.Buffers.Binary;
using System.IO.Compression;

namespace Kit.Data;

/// <summary>An IDX array of unsigned bytes: its dimensions and data.</summary>
public sealed record IdxArray(int[] Dimensions, byte[] Data);

/// <summary>Reads and writes IDX files (unsigned-byte data), gzip or plain.</summary>
public static class IdxFile
{
    /// <summary>Reads <paramref name="path"/>; a wrong magic number or a truncated file is an InvalidDataException naming the
    /// file.</summary>
    public static IdxArray Read(string path)
    {
        byte[] bytes;
        try
        {
            using var file = File.OpenRead(path);
            bool gzip = file.Length >= 2 && file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
            file.Position = 0;
            using var source = gzip ? (Stream)new GZipStream(file, CompressionMode.Decompress) : file;
            using var memory = new MemoryStream();
            source.CopyTo(memory);
            bytes = memory.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: the gzip stream is corrupt or truncated ({e.Message}).", e);
        }
        if (bytes.Length < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] < 1 || bytes[3] > 4)
            throw new InvalidDataException($"{path}: magic number " +
                $"0x{(bytes.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : 0):X8} is not an unsigned-byte IDX file " +
                "(expected 0x00000801 for labels or 0x00000803 for images).");
        int dims = bytes[3];
        if (bytes.Length < 4
            + 4 * dims) throw new InvalidDataException($"{path}: truncated inside the header ({bytes.Length} bytes for {dims} " +
                $"dimensions).");
        var shape = new int[dims];
        long expected = 1;
        for (int d = 0; d < dims; d++)
        {
            shape[d] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * d));
            if (shape[d] < 0) throw new InvalidDataException($"{path}: dimension {d} is negative ({shape[d]}); the file is corrupt.");
            expected *= shape[d];
        }
        long have = bytes.Length - (4 + 4 * dims);
        if (have < expected)
            throw new InvalidDataException($"{path}: truncated: the header promises [{string.Join(" × ", shape)}] = {expected} bytes " +
                $"of data, but only {have} follow.");
        return new IdxArray(shape, bytes.AsSpan(4 + 4 * dims, (int)expected).ToArray());
    }

    /// <summary>Writes an unsigned-byte IDX file (gzip when the name ends in .gz).</summary>
    public static void Write(string path, int[] dimensions, byte[] data)
    {
        using var file = File.Create(path);
        using var target = path.EndsWith(".gz", StringComparison.Ordinal) ? (Stream)new GZipStream(file, CompressionLevel.Fastest) : file;
        target.Write(new byte[] { 0, 0, 0x08, (byte)dimensions.Length });
        Span<byte> word = stackalloc byte[4];
        foreach (var d in dimensions) { BinaryPrimitives.WriteInt32BigEndian(word, d); target.Write(word); }
        target.Write(data);
    }
}
