// The four standard sequences of a unified model (LaVIT §3.2: [IMG] and [/IMG] wrap the raster-order visual tokens;
// pairs are fed in both orders so one next-token objective teaches generation and understanding):
//   text → image   [BOS] caption [IMG] v1 … vL [/IMG] [EOS]     (caption dropped at the CFG rate: unconditional)
//   image → text   [BOS] [IMG] v1 … vL [/IMG] [CAP] caption [EOS]
//   VQA            [BOS] [IMG] v1 … vL [/IMG] [Q] question [A] answer [EOS]
//   text           [BOS] line [EOS]                               (keeps the language ability)
// L is each image's own number of codes.
using Kit.Core;

namespace Kit.Language;

/// <summary>The standard tasks.</summary>
public static class SequenceTasks
{
    /// <summary>Text → image: the caption, then the image asked for.</summary>
    public static readonly SequenceTask TextToImage = new TextToImageTask();
    /// <summary>Image → text: the image given, then its caption.</summary>
    public static readonly SequenceTask ImageToText = new ImageToTextTask();
    /// <summary>Visual question answering on a scene's question–answer pairs.</summary>
    public static readonly SequenceTask Vqa = new VqaTask();
    /// <summary>A text line alone.</summary>
    public static readonly SequenceTask Text = new TextTask();

    sealed class TextToImageTask : SequenceTask
    {
        public override string Name => "text→image";

        public override TokenSequence Build(UnifiedSequences s, int item, KitRandom rng)
        {
            var sequence = s.Layout.Begin().Special(SpecialToken.Bos);
            if (rng.NextDouble() >= s.Mix.UnconditionalRate) sequence.Text(s.Images!.CaptionOf(item, rng));
            return sequence.Image(s.CodesOf(item)).Special(SpecialToken.Eos).Build();
        }
    }

    sealed class ImageToTextTask : SequenceTask
    {
        public override string Name => "image→text";
        public override bool ImageIsGiven => true;

        public override TokenSequence Build(UnifiedSequences s, int item, KitRandom rng) =>
            s.GivenImage(s.Layout.Begin().Special(SpecialToken.Bos), item)
                .Special(SpecialToken.Caption).Text(s.Images!.CaptionOf(item, rng)).Special(SpecialToken.Eos).Build();
    }

    sealed class VqaTask : SequenceTask
    {
        public override string Name => "VQA";
        public override bool ImageIsGiven => true;

        public override void Check(UnifiedSequences s)
        {
            if (s.Images is { HasQuestions: false })
                throw new ArgumentException($"Vqa={s.Mix.WeightOf(Name)}: questions come from scenes, and these images have captions only.",
                    "mix");
        }

        public override TokenSequence Build(UnifiedSequences s, int item, KitRandom rng)
        {
            var questions = s.Images!.Items[item].Questions!();
            var qa = questions[rng.Next(questions.Count)];
            return s.GivenImage(s.Layout.Begin().Special(SpecialToken.Bos), item)
                .Special(SpecialToken.Question).Text(qa.Question).Special(SpecialToken.Answer).Text(SequenceLayout.AnswerText(qa.Answer))
                .Special(SpecialToken.Eos).Build();
        }
    }

    sealed class TextTask : SequenceTask
    {
        public override string Name => "text";
        public override bool DrawsImages => false;

        public override TokenSequence Build(UnifiedSequences s, int item, KitRandom rng) =>
            s.Layout.Begin().Special(SpecialToken.Bos).Text(s.TextLines[item]).Special(SpecialToken.Eos).Build();
    }
}
