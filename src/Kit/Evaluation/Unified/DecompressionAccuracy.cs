// UniCode's in-context decompression, scored: given an image compressed (one aggregated input per position), how many
// of its codes the LLM writes back right when asked for the whole stack.
using Kit.Core;
using Kit.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Evaluation.Unified;

/// <summary>Share of the asked block's codes predicted right, for the first layer and for the later layers.</summary>
/// <param name="First">First-layer codes right.</param>
/// <param name="Later">Later layers' codes right (NaN at D = 1, where there are none).</param>
public sealed record DecompressionScore(double First, double Later);

/// <summary>Decompression accuracy of a unified model.</summary>
public static class DecompressionAccuracy
{
    /// <summary>
    /// Given each image of <paramref name="images"/> compressed, the share of its ĥŵD codes predicted right at each position of
    /// the asked block (teacher-forced, argmax over the code rows). Chance is 1 / K.
    /// </summary>
    public static DecompressionScore Measure(UnifiedModel model, UnifiedVocabulary vocabulary, VisualCorpus images,
        IReadOnlyList<string> textLines)
    {
        int depth = model.Config.StackDepth;
        var corpus = images with { Depth = depth };
        var sequences = new UnifiedSequences(vocabulary, corpus, textLines, new SequenceMix(new (SequenceTask,
            double)[] { (DecompressionTask.Instance, 1) }, 0));
        var codeIds = tensor(vocabulary.CodeIds.Select(i => (long)i).ToArray(), device: model.parameters().First().device);
        long[] right = new long[2], total = new long[2];
        model.eval();
        using var noGrad = no_grad();
        for (int start = 0; start < corpus.Count; start += 32)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(32, corpus.Count - start);
            var rows = Enumerable.Range(start, n).Select(i => sequences.Build(DecompressionTask.Instance, i, KitRandom.For(0, i))).ToList();
            using var batch = sequences.Pack(rows, Enumerable.Range(start, n).Select(i => (long)i).ToArray(),
                rows.Select(_ => (SequenceTask)DecompressionTask.Instance).ToArray(), imageLossWeight: 1, givenImageLossWeight: 0);
            var predicted = model.CodeLogits(batch, codeIds).argmax(-1).cpu().data<long>().ToArray();
            var targets = batch.Targets.data<long>().ToArray();
            var asked = batch.Weights.data<float>().Zip(batch.VisualTarget.data<bool>(), (w, v) => w > 0 && v).ToArray();
            long t = batch.Tokens.shape[1];
            for (int row = 0; row < n; row++)
                for (long i = 0, k = 0; i < t; i++)
                {
                    long at = row * t + i;
                    if (!asked[at]) continue;
                    int layer = (int)(k++ % depth) == 0 ? 0 : 1;
                    total[layer]++;
                    if (vocabulary.CodeOf((int)targets[at]) == predicted[at]) right[layer]++;
                }
        }
        return new DecompressionScore(right[0] / (double)Math.Max(1, total[0]), total[1] == 0 ? double.NaN : right[1] / (double)total[1]);
    }
}
