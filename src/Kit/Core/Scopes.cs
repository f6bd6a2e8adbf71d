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

    /// <summary>Runs <paramref name="body"/> in a fresh scope (no result).</summary>
    public static void Run(Action body)
    {
        using var scope = NewDisposeScope();
        body();
    }
}
