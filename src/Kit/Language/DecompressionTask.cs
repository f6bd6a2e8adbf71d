// UniCode's in-context image decompression as a training sequence: the image is given as its compressed form (one
// aggregated embedding per code-map position: ĥŵ positions) and the model writes out the full code sequence (every
// code of every stacked layer: ĥŵD codes, layers innermost):
//     [BOS] [IMG] ĥŵ aggregated positions [/IMG] [IMG] ĥŵD codes, asked for [/IMG] [EOS]
// The first block is context (never a target), the second is what the decompression loss is taken on. At D = 1 both
// blocks hold the same codes and the task is re-emitting the given codes in order — an in-context copy, which the
// notebook says in its table; at D = 2 it recovers the second layer's codes from the sums (or joined rows) it was given.
using Kit.Core;

namespace Kit.Language;

/// <summary>In-context image decompression (UniCode §3.3): compressed image in, every code out.</summary>
public sealed class DecompressionTask : SequenceTask
{
    /// <summary>The task (it holds no state).</summary>
    public static readonly DecompressionTask Instance = new();

    public override string Name => "decompression";

    /// <summary>The first block is given, the second asked for.</summary>
    public override bool BlockIsGiven(int block) => block == 0;

    public override bool ImageIsGiven => true;

    public override void Check(UnifiedSequences s)
    {
        if (s.Images is null) throw new ArgumentException("decompression sequences need images.", "images");
    }

    public override TokenSequence Build(UnifiedSequences s, int item, KitRandom rng) =>
        s.GivenImage(s.Layout.Begin().Special(SpecialToken.Bos), item).Image(s.CodesOf(item)).Special(SpecialToken.Eos).Build();
}
