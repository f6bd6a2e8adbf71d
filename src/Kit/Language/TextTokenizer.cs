// Text tokens for the kit's small language models: a real BPE (tiktoken's o200k or cl100k through
// Microsoft.ML.Tokenizers) followed by a compact remapping to the ids that occur in the corpus, so a model of a
// few million parameters does not carry a 200,000-row embedding for tokens it will never see.
using Microsoft.ML.Tokenizers;

namespace Kit.Language;

/// <summary>BPE encoding remapped to compact ids 0 … Count − 1 (id 0 = a token the corpus never had).</summary>
public sealed class TextTokenizer
{
    /// <summary>The BPE encodings the kit can use.</summary>
    public static readonly IReadOnlyList<string> Encodings = new[] { "o200k_base", "cl100k_base" };

    /// <summary>Compact id of any BPE token missing from the corpus.</summary>
    public const int Unknown = 0;

    readonly Tokenizer _bpe;
    readonly int[] _original;                     // compact id → BPE id (index 0 unused: unknown)
    readonly Dictionary<int, int> _compact = new(); // BPE id → compact id

    TextTokenizer(string encoding, Tokenizer bpe, IEnumerable<int> originalIds)
    {
        Encoding = encoding;
        _bpe = bpe;
        _original = new[] { -1 }.Concat(originalIds.Distinct().OrderBy(id => id)).ToArray();
        for (int i = 1; i < _original.Length; i++) _compact[_original[i]] = i;
    }

    /// <summary>The BPE encoding's name.</summary>
    public string Encoding { get; }

    /// <summary>Number of compact ids (including <see cref="Unknown"/>).</summary>
    public int Count => _original.Length;

    /// <summary>Builds the remapping from every BPE token that occurs in <paramref name="corpus"/> (sorted by BPE id, so it is
    /// deterministic).</summary>
    public static TextTokenizer Fit(IEnumerable<string> corpus, string encoding = "o200k_base")
    {
        var bpe = Bpe(encoding);
        var ids = new HashSet<int>();
        foreach (var line in corpus) ids.UnionWith(bpe.EncodeToIds(line));
        return new TextTokenizer(encoding, bpe, ids);
    }

    static Tokenizer Bpe(string encoding)
    {
        if (!Encodings.Contains(encoding))
            throw new ArgumentException($"encoding '{encoding}' is not one of {string.Join(", ", Encodings)}.", nameof(encoding));
        return TiktokenTokenizer.CreateForEncoding(encoding);
    }

    /// <summary>Compact ids of <paramref name="text"/>; tokens the corpus never had become <see cref="Unknown"/>.</summary>
    public int[] Encode(string text) => _bpe.EncodeToIds(text).Select(id => _compact.TryGetValue(id, out int c) ? c : Unknown).ToArray();

    /// <summary>Text of compact ids (unknown ids decode to U+FFFD).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new System.Text.StringBuilder();
        var run = new List<int>();
        void Flush() { if (run.Count > 0) { sb.Append(_bpe.Decode(run)); run.Clear(); } }
        foreach (int id in ids)
        {
            if (id < 0 || id >= Count) throw new ArgumentOutOfRangeException(nameof(ids), id, $"expected compact ids 0…{Count - 1}");
            if (id == Unknown) { Flush(); sb.Append('\uFFFD'); }
            else run.Add(_original[id]);
        }
        Flush();
        return sb.ToString();
    }

    /// <summary>The text of one compact id (e.g. " red").</summary>
    public string TokenText(int id) => Decode(new[] { id });

    /// <summary>
    /// One id as a table shows it: its text in quotes (<c>" red"</c>); its bytes when they are no text on their own (a
    /// byte-level BPE piece of a longer character: <c>bytes E2 80</c>); <c>[unknown]</c> for id 0, the token the corpus never had.
    /// </summary>
    public string Display(int id)
    {
        if (id == Unknown) return "[unknown] (any token the corpus never had)";
        var text = TokenText(id);
        if (!text.Contains('\uFFFD')) return $"\"{text}\"";
        var bytes = TokenBytes(Encoding).GetValueOrDefault(_original[id]);
        return bytes is null ? $"\"{text}\"" : "bytes " + string.Join(" ", bytes.Select(b => b.ToString("X2",
            System.Globalization.CultureInfo.InvariantCulture)));
    }

    static readonly Dictionary<string, Dictionary<int, byte[]>> TokenBytesCache = new();

    // The BPE's own table, BPE id → bytes, read from the tiktoken file the encoding's data package carries ("base64 rank" lines).
    static Dictionary<int, byte[]> TokenBytes(string encoding)
    {
        lock (TokenBytesCache)
        {
            if (TokenBytesCache.TryGetValue(encoding, out var cached)) return cached;
            var table = new Dictionary<int, byte[]>();
            var assembly = new[] { "Microsoft.ML.Tokenizers.Data.O200kBase", "Microsoft.ML.Tokenizers.Data.Cl100kBase" }
                .Select(name => { try { return System.Reflection.Assembly.Load(name); } catch (IOException) { return null; } })
                .FirstOrDefault(a => a is not null && a.GetManifestResourceNames().Contains($"{encoding}.tiktoken.deflate"));
            if (assembly?.GetManifestResourceStream($"{encoding}.tiktoken.deflate") is { } stream)
            {
                using var reader = new StreamReader(new System.IO.Compression.DeflateStream(stream,
                    System.IO.Compression.CompressionMode.Decompress));
                for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
                {
                    int space = line.IndexOf(' ');
                    if (space > 0 && int.TryParse(line.AsSpan(space + 1),
                        out int rank)) table[rank] = Convert.FromBase64String(line[..space]);
                }
            }
            return TokenBytesCache[encoding] = table;
        }
    }

    /// <summary>The BPE id behind a compact id (−1 for <see cref="Unknown"/>).</summary>
    public int BpeId(int id) => _original[id];
}
