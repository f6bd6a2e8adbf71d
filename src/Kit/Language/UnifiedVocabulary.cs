// One id space for text and images (LaVIT §3.2, UniCode §3): text ids first, then special tokens, then the
// visual codes offset after them, so the visual codes are always the last ids ([IMG] = 32000, [/IMG] = 32001,
// code k = 32002 + k in LaVIT's release; the same layout at the kit's size).
using static TorchSharp.torch;

namespace Kit.Language;

/// <summary>Special tokens of the unified vocabulary; the enum order is their id order.</summary>
public enum SpecialToken { Pad, Bos, Eos, Img, EndImg, Caption, Question, Answer }

/// <summary>What an id of the unified vocabulary stands for.</summary>
public enum TokenKind { Text, Special, VisualCode }

/// <summary>Text ids [0, TextCount), special tokens, then visual codes [CodeOffset, Count).</summary>
public sealed class UnifiedVocabulary
{
    static readonly string[] SpecialNames = { "[PAD]", "[BOS]", "[EOS]", "[IMG]", "[/IMG]", "[CAP]", "[Q]", "[A]" };

    public UnifiedVocabulary(TextTokenizer text, int codebookSize, int codesPerImage)
    {
        if (codebookSize < 1) throw new ArgumentOutOfRangeException(nameof(codebookSize), codebookSize, "expected at least one visual code");
        if (codesPerImage < 1) throw new ArgumentOutOfRangeException(nameof(codesPerImage), codesPerImage, "expected at least one visual token per image");
        Text = text;
        CodebookSize = codebookSize;
        CodesPerImage = codesPerImage;
    }

    /// <summary>The text tokenizer behind the text ids.</summary>
    public TextTokenizer Text { get; }

    /// <summary>Number of text ids.</summary>
    public int TextCount => Text.Count;

    /// <summary>First special id.</summary>
    public int SpecialOffset => TextCount;

    /// <summary>First visual-code id.</summary>
    public int CodeOffset => SpecialOffset + SpecialNames.Length;

    /// <summary>Number of visual codes.</summary>
    public int CodebookSize { get; }

    /// <summary>Visual tokens between [IMG] and [/IMG] (h × w × codes per position, raster order).</summary>
    public int CodesPerImage { get; }

    /// <summary>Total number of ids.</summary>
    public int Count => CodeOffset + CodebookSize;

    /// <summary>Id of a special token.</summary>
    public int this[SpecialToken token] => SpecialOffset + (int)token;

    /// <summary>Id of visual code <paramref name="code"/>.</summary>
    public int CodeId(long code) => code >= 0 && code < CodebookSize ? CodeOffset + (int)code
        : throw new ArgumentOutOfRangeException(nameof(code), code, $"expected a visual code 0…{CodebookSize - 1}");

    /// <summary>What <paramref name="id"/> is.</summary>
    public TokenKind KindOf(int id) =>
        id < 0 || id >= Count ? throw new ArgumentOutOfRangeException(nameof(id), id, $"expected an id 0…{Count - 1}")
        : id < SpecialOffset ? TokenKind.Text : id < CodeOffset ? TokenKind.Special : TokenKind.VisualCode;

    /// <summary>"what is id 5123?": e.g. <c>text " red"</c>, <c>[IMG]</c>, <c>visual code 17</c>.</summary>
    public string Describe(int id) => KindOf(id) switch
    {
        TokenKind.Text => $"text \"{Text.TokenText(id)}\"",
        TokenKind.Special => SpecialNames[id - SpecialOffset],
        _ => $"visual code {id - CodeOffset}",
    };

    /// <summary>The special token of a special id.</summary>
    public SpecialToken SpecialOf(int id) => KindOf(id) == TokenKind.Special ? (SpecialToken)(id - SpecialOffset)
        : throw new ArgumentException($"id {id} is {Describe(id)}, not a special token.", nameof(id));

    /// <summary>Visual code of a visual id.</summary>
    public int CodeOf(int id) => KindOf(id) == TokenKind.VisualCode ? id - CodeOffset
        : throw new ArgumentException($"id {id} is {Describe(id)}, not a visual code.", nameof(id));

    /// <summary>Text ids of <paramref name="text"/>.</summary>
    public int[] EncodeText(string text) => Text.Encode(text);

    /// <summary>The text among <paramref name="ids"/> (special tokens and visual codes are skipped).</summary>
    public string DecodeText(IEnumerable<int> ids) => Text.Decode(ids.Where(id => id >= 0 && id < TextCount));

    /// <summary>Boolean mask [Count] of the ids of one kind.</summary>
    public Tensor KindMask(TokenKind kind, Device? device = null)
    {
        var mask = zeros(Count, dtype: @bool, device: device);
        var (start, length) = kind switch
        {
            TokenKind.Text => (0, TextCount),
            TokenKind.Special => (SpecialOffset, CodeOffset - SpecialOffset),
            _ => (CodeOffset, CodebookSize),
        };
        mask.narrow(0, start, length).fill_(true);
        return mask;
    }

    /// <summary>The factorization of the visual ids for a factorized head (groups of bits, LSB first).</summary>
    public CodeFactorization Factorized(int[] groupBits) =>
        1 << groupBits.Sum() == CodebookSize ? new CodeFactorization(CodeOffset, groupBits)
        : throw new ArgumentException($"groups of {string.Join("+", groupBits)} bits cover {1 << groupBits.Sum()} codes, but the codebook has {CodebookSize}.", nameof(groupBits));
}
