// UniCode's in-context image decompression as a training sequence: the image is given as its compressed form (one
// aggregated embedding per code-map position) and the model writes out the full code sequence (every code of every
// stacked layer). The kit's language model reads one code per position, so at D = 1 both blocks hold the same 64 codes
// and the task is re-emitting the given codes in order — an in-context copy, which the notebook says in its table:
//     [BOS] [IMG] given codes [/IMG] [IMG] the same codes, asked for [/IMG] [EOS]
// The first block is context (weighted as a given image), the second is what the decompression loss is taken on.
using Kit.Core;

namespace Kit.Language;

/// <summary>In-context image decompression (UniCode §3.3) at one code per position.</summary>
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

    public override int[] Build(UnifiedSequences s, int item, KitRandom rng)
    {
        var ids = new List<int> { s.Vocabulary[SpecialToken.Bos] };
        ids.AddRange(s.ImageBlock(item));
        ids.AddRange(s.ImageBlock(item));
        ids.Add(s.Vocabulary[SpecialToken.Eos]);
        return ids.ToArray();
    }
}
