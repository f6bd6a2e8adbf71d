// Choosing the next token: greedy, temperature, top-k, nucleus (top-p); classifier-free guidance (Ho &
// Salimans 2022; Parti and CM3Leon use it for text-to-image): logits = u + s·(c − u) from a conditional and an
// unconditional pass; and constrained decoding, so that after [IMG] only visual codes come, exactly h×w of them,
// then [/IMG] — the decoder can never emit a malformed image block.
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Language;

/// <summary>How to pick tokens.</summary>
/// <param name="Greedy">Always the most likely allowed token (ignores the rest).</param>
/// <param name="Temperature">Divides the logits (&lt; 1 sharper, &gt; 1 flatter).</param>
/// <param name="TopK">Keep the k most likely tokens (0 = all).</param>
/// <param name="TopP">Keep the smallest set whose probability reaches p (1 = all).</param>
/// <param name="Guidance">Classifier-free guidance scale s (1 = conditional only, no unconditional pass).</param>
/// <param name="Seed">Seed of the sampling generator: same seed, same samples.</param>
public sealed record SamplingOptions(bool Greedy = false, double Temperature = 1.0, int TopK = 0, double TopP = 1.0, double Guidance = 1.0,
    long Seed = 0)
{
    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public SamplingOptions Validate()
    {
        if (!(Temperature > 0)) throw new ArgumentException($"Temperature={Temperature}: expected > 0.", nameof(Temperature));
        if (TopK < 0) throw new ArgumentException($"TopK={TopK}: expected ≥ 0 (0 = off).", nameof(TopK));
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"TopP={TopP}: expected 0 < p ≤ 1.", nameof(TopP));
        if (!(Guidance >= 0)) throw new ArgumentException($"Guidance={Guidance}: expected ≥ 0.", nameof(Guidance));
        return this;
    }
}

/// <summary>Token choice from logits.</summary>
public static class Sampling
{
    /// <summary>Classifier-free guidance: u + s·(c − u).</summary>
    public static Tensor Guide(Tensor conditional, Tensor unconditional, double scale) => unconditional
        + (conditional - unconditional) * scale;

    /// <summary>
    /// Picks one index per row of <paramref name="logits"/> [B, K]; <paramref name="allowed"/> [B, K] (or [K])
    /// removes tokens outright. Every row must allow at least one token.
    /// </summary>
    public static Tensor Pick(Tensor logits, SamplingOptions options, Tensor? allowed = null, Generator? generator = null)
    {
        if (logits.dim() != 2) throw new ArgumentException($"logits must be [B, K]; got [{string.Join(", ", logits.shape)}].",
            nameof(logits));
        var x = logits.to(float32);
        if (allowed is not null) x = x.masked_fill(allowed.logical_not().expand_as(x), double.NegativeInfinity);
        if (options.Greedy) return x.argmax(1);
        x = x / options.Temperature;
        if (options.TopK > 0 && options.TopK < x.shape[1])
        {
            var kth = x.topk(options.TopK, 1).values.narrow(1, options.TopK - 1, 1);
            x = x.masked_fill(x.lt(kth), double.NegativeInfinity);
        }
        if (options.TopP < 1)
        {
            var (sorted, order) = x.sort(1, descending: true);
            var probabilities = F.softmax(sorted, 1);
            // Drop a token when the tokens before it already reach p; the most likely one always stays.
            var before = probabilities.cumsum(1) - probabilities;
            var drop = before.ge(options.TopP);
            x = x.scatter(1, order, sorted.masked_fill(drop, double.NegativeInfinity));
        }
        return multinomial(F.softmax(x, 1), 1, generator: generator).squeeze(1);
    }
}

/// <summary>
/// Per-sequence state of constrained decoding. Outside an image: anything but visual codes, [/IMG], [PAD] and [BOS] (and
/// no [IMG] when images are not allowed; in the shared layout the code ids are words there, so they stay allowed as
/// text). After [IMG]: visual codes only until the image has <see cref="MinCodes"/>, then codes or [/IMG] until it has
/// <see cref="MaxCodes"/>, then only [/IMG] (equal bounds: exactly that many, a fixed grid). A sequence is finished at
/// [EOS], or at [/IMG] when <see cref="StopAfterImage"/>.
/// </summary>
public sealed class DecodingConstraint
{
    readonly UnifiedVocabulary _vocabulary;
    readonly int[] _codesSoFar;   // −1: outside an image block
    readonly bool[] _finished;
    readonly Tensor _outside, _codes, _codesOrClose, _close, _eosOnly;

    /// <param name="vocabulary">The ids.</param>
    /// <param name="batch">Sequences decoded together.</param>
    /// <param name="minCodes">The fewest codes an image block may hold.</param>
    /// <param name="maxCodes">The most codes an image block may hold.</param>
    /// <param name="allowImages">Whether a sequence may open an image block.</param>
    /// <param name="stopAfterImage">Finish a sequence at its [/IMG].</param>
    /// <param name="startInsideImage">The prompts end in [IMG]: decoding starts inside an image block.</param>
    /// <param name="device">Where the masks live.</param>
    public DecodingConstraint(UnifiedVocabulary vocabulary, int batch, int minCodes, int maxCodes, bool allowImages = true,
        bool stopAfterImage = false,
        bool startInsideImage = false, Device? device = null)
    {
        if (minCodes < 1 || maxCodes < minCodes)
            throw new ArgumentException($"minCodes={minCodes}, maxCodes={maxCodes}: expected 1 ≤ minCodes ≤ maxCodes.", nameof(minCodes));
        _vocabulary = vocabulary;
        MinCodes = minCodes; MaxCodes = maxCodes;
        StopAfterImage = stopAfterImage;
        _codesSoFar = Enumerable.Repeat(startInsideImage ? 0 : -1, batch).ToArray();
        _finished = new bool[batch];
        _codes = vocabulary.CodeMask(device);
        _outside = vocabulary.KindMask(TokenKind.Text, device);
        foreach (var special in new[] { SpecialToken.Eos, SpecialToken.Caption, SpecialToken.Question,
            SpecialToken.Answer }.Concat(allowImages ? new[] { SpecialToken.Img } : Array.Empty<SpecialToken>()))
            _outside[vocabulary[special]] = true;
        _close = zeros(vocabulary.Count, dtype: @bool, device: device);
        _close[vocabulary[SpecialToken.EndImg]] = true;
        _codesOrClose = _codes.logical_or(_close);
        _eosOnly = zeros(vocabulary.Count, dtype: @bool, device: device);
        _eosOnly[vocabulary[SpecialToken.Eos]] = true;
    }

    /// <summary>The fewest codes an image block holds.</summary>
    public int MinCodes { get; }
    /// <summary>The most codes an image block holds.</summary>
    public int MaxCodes { get; }

    /// <summary>Whether a sequence ends at its [/IMG].</summary>
    public bool StopAfterImage { get; }

    /// <summary>True when every sequence has finished.</summary>
    public bool AllFinished => _finished.All(f => f);

    /// <summary>Whether sequence <paramref name="row"/> has finished.</summary>
    public bool Finished(int row) => _finished[row];

    /// <summary>Whether sequence <paramref name="row"/> is inside an image block.</summary>
    public bool InsideImage(int row) => _codesSoFar[row] >= 0;

    /// <summary>Allowed next ids [B, Count]; finished rows may only repeat [EOS] (ignored by the caller).</summary>
    public Tensor Allowed() => stack(Enumerable.Range(0, _finished.Length).Select(row =>
        _finished[row] ? _eosOnly
        : _codesSoFar[row] < 0 ? _outside
        : _codesSoFar[row] < MinCodes ? _codes
        : _codesSoFar[row] < MaxCodes ? _codesOrClose
        : _close).ToArray());

    /// <summary>Advances every sequence by the ids just chosen [B].</summary>
    public void Advance(long[] chosen)
    {
        int open = _vocabulary[SpecialToken.Img], close = _vocabulary[SpecialToken.EndImg], eos = _vocabulary[SpecialToken.Eos];
        for (int row = 0; row < chosen.Length; row++)
        {
            if (_finished[row]) continue;
            int id = (int)chosen[row];
            if (_codesSoFar[row] >= 0)
            {
                if (id == close) { _codesSoFar[row] = -1; if (StopAfterImage) _finished[row] = true; }
                else _codesSoFar[row]++;
            }
            else if (id == open) _codesSoFar[row] = 0;
            else if (id == eos) _finished[row] = true;
        }
    }
}
