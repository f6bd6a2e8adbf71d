// One id space for text and images. Two layouts:
//   Offset (LaVIT §3.2; the kit's default): text ids first, then special tokens, then the visual codes after them
//     ([IMG] = 32000, [/IMG] = 32001, code k = 32002 + k in LaVIT's release; the same layout at the kit's size);
//   SharedWithText (UniCode §3): the visual codebook is rows of the language model's word-embedding table, so visual
//     code k is the text id of its row. The same id is a word outside [IMG] … [/IMG] and a visual code inside, and only
//     its place in the sequence says which.
// Either way, a position is visual when it lies strictly inside an [IMG] … [/IMG] span (VisualMask), never because of
// the value of its id; and an image may hold any number of codes.
using static TorchSharp.torch;

namespace Kit.Language;

/// <summary>Special tokens of the unified vocabulary; the enum order is their id order.</summary>
public enum SpecialToken { Pad, Bos, Eos, Img, EndImg, Caption, Question, Answer }

/// <summary>What an id of the unified vocabulary stands for, read outside an image block.</summary>
public enum TokenKind { Text, Special, VisualCode }

/// <summary>Where the visual codes' ids lie.</summary>
public enum VisualLayout { Offset, SharedWithText }

/// <summary>Text ids [0, TextCount), special tokens, and visual codes (after them, or onto text ids).</summary>
public sealed class UnifiedVocabulary
{
    static readonly string[] SpecialNames = { "[PAD]", "[BOS]", "[EOS]", "[IMG]", "[/IMG]", "[CAP]", "[Q]", "[A]" };
    readonly int[] _codeIds;          // id of each visual code
    readonly int[] _codeOfId;         // code of each id (−1: none), for the ids inside an image block

    /// <summary>The offset layout: <paramref name="codebookSize"/> visual codes after the text ids and special tokens.</summary>
    public UnifiedVocabulary(TextTokenizer text, int codebookSize)
        : this(text, codebookSize < 1 ? throw new ArgumentOutOfRangeException(nameof(codebookSize), codebookSize,
            "expected at least one visual code")
            : Enumerable.Range(text.Count + SpecialNames.Length, codebookSize).ToArray(), VisualLayout.Offset)
    { }

    UnifiedVocabulary(TextTokenizer text, int[] codeIds, VisualLayout layout)
    {
        Text = text;
        Layout = layout;
        _codeIds = codeIds;
        _codeOfId = Enumerable.Repeat(-1, Count).ToArray();
        for (int k = 0; k < codeIds.Length; k++)
        {
            if (codeIds[k] < 0
                || codeIds[k] >= Count) throw new ArgumentException($"visual code {k} maps to id {codeIds[k]}, outside 0…{Count - 1}.",
                    nameof(codeIds));
            if (_codeOfId[codeIds[k]] >= 0) throw new ArgumentException($"id {codeIds[k]} is given to visual codes " +
                $"{_codeOfId[codeIds[k]]} and {k}.", nameof(codeIds));
            _codeOfId[codeIds[k]] = k;
        }
    }

    /// <summary>
    /// The shared layout (UniCode): visual code k is text id <paramref name="textIds"/>[k] — the row of the language model's
    /// word-embedding table that the visual codebook reads.
    /// </summary>
    public static UnifiedVocabulary SharedWithText(TextTokenizer text, IReadOnlyList<int> textIds)
    {
        if (textIds.Count < 2) throw new ArgumentException($"{textIds.Count} visual codes: expected at least 2.", nameof(textIds));
        foreach (var id in textIds)
            if (id < 0 || id >= text.Count) throw new ArgumentException($"text id {id} is not one of the {text.Count} text ids.",
                nameof(textIds));
        return new UnifiedVocabulary(text, textIds.ToArray(), VisualLayout.SharedWithText);
    }

    /// <summary>The text tokenizer behind the text ids.</summary>
    public TextTokenizer Text { get; }

    /// <summary>Where the visual codes' ids lie.</summary>
    public VisualLayout Layout { get; }

    /// <summary>Number of text ids.</summary>
    public int TextCount => Text.Count;

    /// <summary>First special id.</summary>
    public int SpecialOffset => TextCount;

    /// <summary>First visual-code id in the offset layout (where codes are the last ids); for the shared layout, the id count.</summary>
    public int CodeOffset => SpecialOffset + SpecialNames.Length;

    /// <summary>Number of visual codes.</summary>
    public int CodebookSize => _codeIds.Length;

    /// <summary>Total number of ids.</summary>
    public int Count => Layout == VisualLayout.Offset ? CodeOffset + _codeIds.Length : CodeOffset;

    /// <summary>The id of every visual code, in code order.</summary>
    public IReadOnlyList<int> CodeIds => _codeIds;

    /// <summary>Id of a special token.</summary>
    public int this[SpecialToken token] => SpecialOffset + (int)token;

    /// <summary>Id of visual code <paramref name="code"/>.</summary>
    public int CodeId(long code) => code >= 0 && code < CodebookSize ? _codeIds[code]
        : throw new ArgumentOutOfRangeException(nameof(code), code, $"expected a visual code 0…{CodebookSize - 1}");

    /// <summary>What <paramref name="id"/> is when it stands outside an image block (inside one, it is a visual code:
    /// <see cref="CodeOf"/>).</summary>
    public TokenKind KindOf(int id) =>
        id < 0 || id >= Count ? throw new ArgumentOutOfRangeException(nameof(id), id, $"expected an id 0…{Count - 1}")
        : id < SpecialOffset ? TokenKind.Text : id < CodeOffset ? TokenKind.Special : TokenKind.VisualCode;

    /// <summary>
    /// "what is id 5123?": e.g. <c>text " red"</c>, <c>[IMG]</c>, <c>visual code 17</c>; <paramref name="insideImage"/> reads a
    /// shared id as the visual code it is inside an image block. Byte-level pieces that are no text on their own show as bytes.
    /// </summary>
    public string Describe(int id, bool insideImage = false)
    {
        if (insideImage && CodeOfOrNull(id) is int code) return $"visual code {code}";
        return KindOf(id) switch
        {
            TokenKind.Text => $"text {Text.Display(id)}"
                + (Layout == VisualLayout.SharedWithText && _codeOfId[id] >= 0 ? $" (visual code {_codeOfId[id]} inside an image)" : ""),
            TokenKind.Special => SpecialNames[id - SpecialOffset],
            _ => $"visual code {id - CodeOffset}",
        };
    }

    /// <summary>The special token of a special id.</summary>
    public SpecialToken SpecialOf(int id) => KindOf(id) == TokenKind.Special ? (SpecialToken)(id - SpecialOffset)
        : throw new ArgumentException($"id {id} is {Describe(id)}, not a special token.", nameof(id));

    /// <summary>The visual code an id stands for inside an image block.</summary>
    public int CodeOf(int id) => CodeOfOrNull(id)
        ?? throw new ArgumentException($"id {id} is {Describe(id)}, not a visual code.", nameof(id));

    int? CodeOfOrNull(int id) => id >= 0 && id < Count && _codeOfId[id] >= 0 ? _codeOfId[id] : null;

    /// <summary>Text ids of <paramref name="text"/>.</summary>
    public int[] EncodeText(string text) => Text.Encode(text);

    /// <summary>The text among <paramref name="ids"/> (special tokens and offset visual codes are skipped).</summary>
    public string DecodeText(IEnumerable<int> ids) => Text.Decode(ids.Where(id => id >= 0 && id < TextCount));

    /// <summary>Boolean mask [Count] of the ids that visual codes take.</summary>
    public Tensor CodeMask(Device? device = null)
    {
        var mask = zeros(Count, dtype: @bool, device: device);
        mask.index_fill_(0, tensor(_codeIds.Select(i => (long)i).ToArray(), device: device), true);
        return mask;
    }

    /// <summary>Boolean mask [Count] of the ids of one kind, read outside an image block (VisualCode: <see cref="CodeMask"/>).</summary>
    public Tensor KindMask(TokenKind kind, Device? device = null)
    {
        if (kind == TokenKind.VisualCode) return CodeMask(device);
        var mask = zeros(Count, dtype: @bool, device: device);
        var (start, length) = kind == TokenKind.Text ? (0, TextCount) : (SpecialOffset, CodeOffset - SpecialOffset);
        mask.narrow(0, start, length).fill_(true);
        return mask;
    }

    /// <summary>
    /// Which positions of <paramref name="tokens"/> [B, T] are visual: strictly inside an [IMG] … [/IMG] span (an [IMG]
    /// not yet closed counts to the end of the row). Vectorised, no sync.
    /// </summary>
    public Tensor VisualMask(Tensor tokens) => VisualSpans(tokens, this[SpecialToken.Img], this[SpecialToken.EndImg]);

    /// <summary>The positions strictly inside [<paramref name="open"/> … <paramref name="close"/>] spans of <paramref name="tokens"/> [B,
    /// T].</summary>
    public static Tensor VisualSpans(Tensor tokens, int open, int close)
    {
        var opens = tokens.eq(open).to(int64);
        var closes = tokens.eq(close);
        var before = opens.cumsum(1) - opens - (closes.to(int64).cumsum(1) - closes.to(int64)); // opened minus closed, strictly before
        return before.gt(0).logical_and(closes.logical_not()).logical_and(opens.eq(0));
    }

    /// <summary>Where each visual position lies in its image [B, T]: 0 for the first code after [IMG], then 1, 2, …; 0 elsewhere.</summary>
    public static Tensor PlaceInImage(Tensor visual)
    {
        var count = visual.to(int64).cumsum(1);
        // The count reached before the current image began: the running maximum of the counts at non-visual positions.
        var atBreaks = where(visual, zeros_like(count), count);
        var start = atBreaks.cummax(1).values;
        return where(visual, count - start - 1, zeros_like(count));
    }

    /// <summary>The factorization of the visual ids for a factorized head (groups of bits, LSB first; offset layout only).</summary>
    public CodeFactorization Factorized(int[] groupBits) =>
        Layout != VisualLayout.Offset
            ? throw new InvalidOperationException("a factorized head needs the visual codes as the last ids (the offset layout).")
        : 1 << groupBits.Sum() == CodebookSize ? new CodeFactorization(CodeOffset, groupBits)
        : throw new ArgumentException($"groups of {string.Join("+", groupBits)} bits cover {1 << groupBits.Sum()} codes, but the " +
            $"codebook has {CodebookSize}.", nameof(groupBits));
}
