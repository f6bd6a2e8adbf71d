// UniCode's language-driven iterative codebook (as its released code builds it): the quantizer keeps an EMA codebook Ê
// of its own, moved by the image features each code wins (k-means initialisation and dead-code restarts write Ê too),
// and the table it looks codes up in is rebuilt from Ê and the language model's rows C_L at every read:
//     C_t = (1 − r)·Ê + r·C_L,   r = min(1, step / ramp), then held at 1 for a tail.
// The pull is not recursive (Ê never takes C_L's values), and C_L is read detached: the tokenizer never writes the
// language model's table. At r = 1 the lookup table is exactly C_L.
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Quantizers;

/// <summary>C_t = (1 − r)·Ê + r·C_L: an EMA codebook pulled toward a language model's rows (UniCode's iterative training).</summary>
public sealed class LanguageDrivenCodebook : Codebook
{
    readonly EmaCodebook visual;          // Ê: the EMA codebook the image features move
    readonly Tensor ratio;                // r, a buffer so that a stored tokenizer keeps the table it was left with
    readonly Func<Tensor> _language;

    /// <param name="language">The language model's rows C_L [K, c] (read detached at each lookup).</param>
    /// <param name="decay">EMA decay of Ê.</param>
    /// <param name="needsInit">k-means initialisation of Ê before the first training batch.</param>
    public LanguageDrivenCodebook(Func<Tensor> language, double decay = 0.99, bool needsInit = true)
        : base(nameof(LanguageDrivenCodebook), ExternalCodebook.TableShape(language, "the language rows", nameof(language), out int width),
            width)
    {
        _language = language;
        var rows = language().detach();
        visual = new EmaCodebook(rows.clone(), decay, needsInit: needsInit);
        ratio = tensor(0f);
        register_buffer(nameof(ratio), ratio);
        RegisterComponents();
    }

    /// <summary>The pull r ∈ [0, 1] toward the language rows.</summary>
    public double Ratio
    {
        get => ratio.item<float>();
        set
        {
            if (!(value >= 0 && value <= 1)) throw new ArgumentOutOfRangeException(nameof(Ratio), value,
                "expected a pull ratio r in [0, 1]");
            using var noGrad = no_grad();
            ratio.fill_(value);
        }
    }

    /// <summary>
    /// The adversarial loss's weight factor at pull ratio <paramref name="ratio"/>, 1 − 0.9 r as UniCode's release scales it:
    /// the discriminator's push fades as the codebook is handed to the language model's rows.
    /// </summary>
    public static double AdversarialScale(double ratio)
    {
        if (!(ratio >= 0 && ratio <= 1)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "expected a pull ratio r in [0, 1]");
        return 1 - 0.9 * ratio;
    }

    /// <summary>r at <paramref name="step"/> of a run whose ramp lasts <paramref name="rampSteps"/> steps: min(1, step / ramp).</summary>
    public static double RatioAt(int step, int rampSteps)
    {
        if (rampSteps < 1) throw new ArgumentOutOfRangeException(nameof(rampSteps), rampSteps, "expected a ramp of at least one step");
        return Math.Clamp(step / (double)rampSteps, 0, 1);
    }

    /// <summary>Ê, the codebook the image features move.</summary>
    public Tensor Visual => visual.Codes();

    /// <summary>The language rows C_L as they stand (detached).</summary>
    public Tensor Language => _language().detach();

    public override Tensor Codes()
    {
        var r = ratio.to(visual.Codes().dtype);
        return visual.Codes() * (1 - r) + _language().detach() * r;
    }

    public override bool LearnsByGradient => false;
    public override bool Writable => true;
    public override bool Initialised => visual.Initialised;
    public override void Observe(Tensor z, Tensor indices) => visual.Observe(z, indices);
    public override void RestartDead(Tensor z, double threshold) => visual.RestartDead(z, threshold);
    public override void Initialise(Tensor centroids) => visual.Initialise(centroids);
}
