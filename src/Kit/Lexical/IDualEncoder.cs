// What LexVLA's evaluation asks of a dual encoder, lexical or dense: vectors to retrieve with, per-patch vectors to
// compare with class prompts (PatchDis), and, for a lexical model, its word vectors before the cut. One scoring path
// reads this contract for both kinds.
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>An image tower over backbone patch features and a text tower over captions, in one space.</summary>
public interface IDualEncoder
{
    /// <summary>True when the space is the lexicon's words (<see cref="EncodeImages"/> is a lexical vector before the 1/√V cut).</summary>
    bool HasWords { get; }

    /// <summary>The training vectors of images [B, V or d] from patch features [B, N, F].</summary>
    Tensor EncodeImages(Tensor features);

    /// <summary>The training vectors of captions [B, V or d]; also the class vectors of prompts ("a circle").</summary>
    Tensor EncodeTexts(IReadOnlyList<string> captions);

    /// <summary>The unit vectors retrieval compares, from training vectors [B, D] (lexical: after the 1/√V cut, normalised
    /// again).</summary>
    Tensor ForRetrieval(Tensor vectors);

    /// <summary>The unit vectors retrieval compares, images [B, D].</summary>
    Tensor RetrievalImages(Tensor features) => ForRetrieval(EncodeImages(features));

    /// <summary>Each patch's scores before normalising [B, N, V or d] (lexical: its word scores).</summary>
    Tensor PatchScores(Tensor features);

    /// <summary>One unit vector per patch [B, N, D], compared with <see cref="EncodeTexts"/> of class prompts by PatchDis.</summary>
    Tensor PatchVectors(Tensor features) => LexicalVectors.Normalise(PatchScores(features));
}
