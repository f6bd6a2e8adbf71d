// Code histograms over a sliding window of batches, kept on the quantizer's device (no sync per step);
// reading the statistics is the only sync.
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Quantizers;

/// <summary>Counts code use over the current and the previous window of batches.</summary>
public sealed class CodeUsage
{
    readonly long _size;
    readonly int _window;
    Tensor? _current, _previous;
    int _batches;
    // Above 2^22 codes a dense histogram costs too much memory per batch: count the codes seen sparsely.
    const long DenseLimit = 1L << 22;
    Dictionary<long, long>? _sparseCurrent, _sparsePrevious;

    /// <param name="codebookSize">Number of codes K.</param>
    /// <param name="windowBatches">Batches per window; statistics cover the last one to two windows.</param>
    public CodeUsage(long codebookSize, int windowBatches = 50)
    {
        _size = codebookSize;
        _window = windowBatches;
    }

    /// <summary>Adds indices (any shape, values in [0, K)) to the window.</summary>
    public void Record(Tensor indices)
    {
        using var scope = NewDisposeScope();
        if (_size > DenseLimit)
        {
            _sparseCurrent ??= new Dictionary<long, long>();
            var (values, _, seen) = indices.reshape(-1).detach().cpu().unique(return_counts: true);
            var v = values.data<long>().ToArray();
            var c = seen!.data<long>().ToArray();
            for (int i = 0; i < v.Length; i++) _sparseCurrent[v[i]] = _sparseCurrent.GetValueOrDefault(v[i]) + c[i];
            if (++_batches % _window == 0) { _sparsePrevious = _sparseCurrent; _sparseCurrent = null; }
            return;
        }
        var counts = bincount(indices.reshape(-1).detach(), minlength: _size).to(int64);
        if (_current is null) _current = counts.DetachFromDisposeScope(); // the window outlives every step's scope
        else _current.add_(counts);
        if (++_batches % _window == 0)
        {
            _previous?.Dispose();
            _previous = _current;
            _current = null;
        }
    }

    /// <summary>The histogram over the window (CPU, int64, length K; not available above 2^22 codes).</summary>
    public long[] Counts()
    {
        if (_size > DenseLimit) throw new InvalidOperationException($"a {_size}-code histogram is not kept densely; use Stats().");
        using var scope = NewDisposeScope();
        var total = zeros(_size, dtype: int64);
        if (_current is not null) total.add_(_current.cpu());
        if (_previous is not null) total.add_(_previous.cpu());
        return total.data<long>().ToArray();
    }

    /// <summary>Usage, perplexity and dead share of the window.</summary>
    public QuantizerStats Stats()
    {
        if (_size <= DenseLimit) return StatsOf(Counts());
        var merged = new Dictionary<long, long>(_sparsePrevious ?? new Dictionary<long, long>());
        foreach (var (k, c) in _sparseCurrent ?? new Dictionary<long, long>()) merged[k] = merged.GetValueOrDefault(k) + c;
        return StatsOf(merged.Values, _size);
    }

    /// <summary>The statistics of a histogram.</summary>
    public static QuantizerStats StatsOf(IReadOnlyList<long> counts) => StatsOf(counts, counts.Count);

    /// <summary>The statistics of the code counts of a <paramref name="size"/>-code book (absent codes count zero).</summary>
    public static QuantizerStats StatsOf(IEnumerable<long> counts, long size)
    {
        double total = 0, used = 0, weighted = 0;
        foreach (var c in counts) if (c > 0) { total += c; used++; weighted += c * Math.Log(c); }
        if (total == 0) return new QuantizerStats(0, 0, 1);
        double entropy = Math.Log(total) - weighted / total; // −Σ p log p with p = c / total
        return new QuantizerStats(used / size, Math.Exp(entropy), 1 - used / size);
    }

    /// <summary>Forgets everything recorded.</summary>
    public void Reset()
    {
        _current?.Dispose(); _previous?.Dispose();
        _current = _previous = null;
        _sparseCurrent = _sparsePrevious = null;
        _batches = 0;
    }
}
