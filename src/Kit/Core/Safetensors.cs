// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the raw little-endian tensor bytes. PyTorch reads it with safetensors.torch.load_file.
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>Header entry for one tensor of a safetensors file.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>Reads and writes safetensors files; writes are atomic (temp file + rename).</summary>
public static class Safetensors
{
    static readonly Dictionary<ScalarType, (string Name, int Size)> DTypes = new()
    {
        [ScalarType.Float64] = ("F64", 8), [ScalarType.Float32] = ("F32", 4), [ScalarType.Float16] = ("F16", 2),
        [ScalarType.BFloat16] = ("BF16", 2), [ScalarType.Int64] = ("I64", 8), [ScalarType.Int32] = ("I32", 4),
        [ScalarType.Int16] = ("I16", 2), [ScalarType.Int8] = ("I8", 1), [ScalarType.Byte] = ("U8", 1), [ScalarType.Bool] = ("BOOL", 1),
    };

    const long MaxHeaderBytes = 100_000_000; // the format's own limit on header size

    /// <summary>Writes tensors (CPU copies, row-major) and string metadata to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors, metadata, wrapStream: null);

    // wrapStream lets tests interrupt a write part-way (a stream that fails after N bytes).
    internal static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata,
        Func<Stream, Stream>? wrapStream)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.Select(kv => KeyValuePair.Create(kv.Key,
                (JsonNode?)JsonValue.Create(kv.Value))));
        long offset = 0;
        var order = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        foreach (var name in order)
        {
            var t = tensors[name];
            if (!DTypes.TryGetValue(t.dtype, out var dt))
                throw new ArgumentException($"tensor '{name}' has dtype {t.dtype}, which safetensors cannot store (expected one of " +
                    $"{string.Join(", ", DTypes.Keys)}).", nameof(tensors));
            long bytes = t.numel() * dt.Size;
            header[name] = new JsonObject
            {
                ["dtype"] = dt.Name,
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + bytes)),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8; // pad with spaces so tensor data starts 8-byte aligned
        var headerBytes = new byte[padded];
        Array.Fill(headerBytes, (byte)' ');
        json.CopyTo(headerBytes, 0);

        AtomicFile.Write(path, stream =>
        {
            var s = wrapStream?.Invoke(stream) ?? stream;
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            s.Write(len);
            s.Write(headerBytes);
            foreach (var name in order)
            {
                using var scope = NewDisposeScope();
                var t = tensors[name].detach().cpu().contiguous();
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian " +
                    "machine");
                s.Write(t.bytes);
            }
            s.Flush();
        });
    }

    /// <summary>Parses the header of a safetensors file, checking it against the format's rules.</summary>
    public static (IReadOnlyList<SafetensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata,
        long DataStart) ReadHeader(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> len = stackalloc byte[8];
        if (f.Read(len) != 8) throw new InvalidDataException($"{path}: too short for a safetensors file (needs an 8-byte header length).");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (n == 0 || n > MaxHeaderBytes || (long)n > f.Length - 8)
            throw new InvalidDataException($"{path}: header length {n} is impossible for a {f.Length}-byte file; the file is truncated " +
                $"or not safetensors.");
        var headerBytes = new byte[n];
        f.ReadExactly(headerBytes);
        JsonNode? root;
        try { root = JsonNode.Parse(headerBytes); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: header is not valid JSON ({e.Message})."); }
        if (root is not JsonObject header) throw new InvalidDataException($"{path}: the header is {Kind(root)}; expected a JSON object " +
            $"of tensors.");
        long dataStart = 8 + (long)n, dataLength = f.Length - dataStart;
        var meta = new Dictionary<string, string>();
        var entries = new List<SafetensorsEntry>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is not JsonObject metadata) throw new InvalidDataException($"{path}: \"__metadata__\" is {Kind(node)}; " +
                    $"expected an object of strings.");
                foreach (var (k, v) in metadata)
                    meta[k] = v is JsonValue value && value.TryGetValue(out string? text) ? text
                        : throw new InvalidDataException($"{path}: metadata '{k}' is {Kind(v)}; expected a string.");
                continue;
            }
            if (node is not JsonObject o) throw new InvalidDataException($"{path}: tensor '{name}' is {Kind(node)}; expected an object " +
                $"with dtype, shape and data_offsets.");
            var dtype = o["dtype"] is JsonValue d && d.TryGetValue(out string? dt)
                ? dt : throw new InvalidDataException($"{path}: tensor '{name}' has dtype {Kind(o["dtype"])}; expected a string such " +
                    $"as \"F32\".");
            var shape = Integers(o["shape"], path, name, "shape");
            var offsets = Integers(o["data_offsets"], path, name, "data_offsets");
            var size = DTypes.Values.FirstOrDefault(x => x.Name == dtype).Size;
            if (size == 0) throw new InvalidDataException($"{path}: tensor '{name}' has dtype '{dtype}', which the kit does not read.");
            if (shape.Any(x => x < 0) || offsets.Length != 2 || offsets[0] < 0 || offsets[1] > dataLength
                || offsets[1] - offsets[0] != shape.Aggregate(1L, (a, b) => a * b) * size)
                throw new InvalidDataException($"{path}: tensor '{name}' has data_offsets [{string.Join(", ", offsets)}] that do not " +
                    $"match its shape [{string.Join(", ", shape)}] × {size} bytes within {dataLength} data bytes.");
            entries.Add(new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1]));
        }
        return (entries, meta, dataStart);
    }

    static long[] Integers(JsonNode? node, string path, string tensor, string field)
    {
        if (node is not JsonArray array) throw new InvalidDataException($"{path}: tensor '{tensor}' has {field} {Kind(node)}; expected " +
            $"an array of integers.");
        return array.Select(x => x is JsonValue v && v.TryGetValue(out long l) ? l
            : throw new InvalidDataException($"{path}: tensor '{tensor}' has a {field} entry {Kind(x)}; expected an integer.")).ToArray();
    }

    static string Kind(JsonNode? node) => node switch
    {
        null => "missing or null",
        JsonArray => "an array",
        JsonObject => "an object",
        _ => $"the value {node.ToJsonString()}",
    };

    /// <summary>Reads every tensor (on the CPU) and the metadata of a safetensors file.</summary>
    public static (Dictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path)
    {
        var (entries, meta, dataStart) = ReadHeader(path);
        var result = new Dictionary<string, Tensor>();
        using var f = File.OpenRead(path);
        foreach (var e in entries)
        {
            var dtype = DTypes.First(d => d.Value.Name == e.DType).Key;
            var buffer = new byte[e.End - e.Begin];
            f.Position = dataStart + e.Begin;
            f.ReadExactly(buffer);
            var t = empty(e.Shape, dtype);
            buffer.CopyTo(t.bytes);
            result[e.Name] = t;
        }
        return (result, meta);
    }
}
