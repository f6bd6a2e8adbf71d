// The dispose-scope discipline, written once. TorchSharp tensors hold native memory the GC does not see:
// 300 training steps without a scope grew a process from 146 MiB to 13 GiB here. Every step runs in a
// scope; only what the caller asks for leaves it.
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>Runs a piece of tensor work inside its own dispose scope.</summary>
public static class Scopes
{
    /// <summary>
    /// Runs <paramref name="body"/> in a fresh dispose scope; every tensor it creates is freed when it
    /// returns. Return plain values (floats, arrays), e.g. <c>loss.item&lt;float&gt;()</c>.
    /// </summary>
    public static T Step<T>(Func<T> body)
    {
        if (typeof(Tensor).IsAssignableFrom(typeof(T)))
            throw new ArgumentException("Scopes.Step frees every tensor it creates; use Scopes.Keep to return a tensor.", nameof(body));
        using var scope = NewDisposeScope();
        return body();
    }

    /// <summary>Runs <paramref name="body"/> in a fresh scope and keeps only the tensor it returns.</summary>
    public static Tensor Keep(Func<Tensor> body)
    {
        using var scope = NewDisposeScope();
        return body().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <paramref name="part"/>(start, count) over <paramref name="rows"/> rows in chunks of <paramref name="chunk"/>, each in its own
    /// scope, the results moved to the CPU and concatenated along dimension 0; the chunks are freed once joined.
    /// </summary>
    public static Tensor InChunks(long rows, int chunk, Func<long, long, Tensor> part)
    {
        if (chunk < 1) throw new ArgumentOutOfRangeException(nameof(chunk), chunk, "expected a positive chunk size");
        var parts = new List<Tensor>();
        try
        {
            for (long start = 0; start < rows; start += chunk)
            {
                long first = start, count = Math.Min(chunk, rows - start);
                parts.Add(Keep(() => part(first, count).cpu()));
            }
            return cat(parts, 0);
        }
        finally { foreach (var p in parts) p.Dispose(); }
    }

    /// <summary>Runs <paramref name="body"/> in a fresh scope (no result).</summary>
    public static void Run(Action body)
    {
        using var scope = NewDisposeScope();
        body();
    }
}
