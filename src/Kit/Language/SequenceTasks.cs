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

        public override int[] Build(UnifiedSequences s, int item, KitRandom rng)
        {
            var ids = new List<int> { s.Vocabulary[SpecialToken.Bos] };
            if (rng.NextDouble() >= s.Mix.UnconditionalRate) ids.AddRange(s.Encode(s.Images!.CaptionOf(item, rng)));
            ids.AddRange(s.ImageBlock(item));
            ids.Add(s.Vocabulary[SpecialToken.Eos]);
            return ids.ToArray();
        }
    }

    sealed class ImageToTextTask : SequenceTask
    {
        public override string Name => "image→text";
        public override bool ImageIsGiven => true;

        public override int[] Build(UnifiedSequences s, int item, KitRandom rng)
        {
            var ids = new List<int> { s.Vocabulary[SpecialToken.Bos] };
            ids.AddRange(s.GivenImageBlock(item));
            ids.Add(s.Vocabulary[SpecialToken.Caption]);
            ids.AddRange(s.Encode(s.Images!.CaptionOf(item, rng)));
            ids.Add(s.Vocabulary[SpecialToken.Eos]);
            return ids.ToArray();
        }
    }

    sealed class VqaTask : SequenceTask
    {
        public override string Name => "VQA";
        public override bool ImageIsGiven => true;

        public override void Check(UnifiedSequences s)
        {
            if (s.Images?.Captions is not null)
                throw new ArgumentException($"Vqa={s.Mix.WeightOf(Name)}: questions come from scenes, and these images have captions only.", "mix");
        }

        public override int[] Build(UnifiedSequences s, int item, KitRandom rng)
        {
            var questions = s.Images!.Scenes[item].Questions();
            var qa = questions[rng.Next(questions.Count)];
            var ids = new List<int> { s.Vocabulary[SpecialToken.Bos] };
            ids.AddRange(s.GivenImageBlock(item));
            ids.Add(s.Vocabulary[SpecialToken.Question]);
            ids.AddRange(s.Encode(qa.Question));
            ids.Add(s.Vocabulary[SpecialToken.Answer]);
            ids.AddRange(s.Encode(UnifiedSequences.AnswerText(qa.Answer)));
            ids.Add(s.Vocabulary[SpecialToken.Eos]);
            return ids.ToArray();
        }
    }

    sealed class TextTask : SequenceTask
    {
        public override string Name => "text";
        public override bool DrawsImages => false;

        public override int[] Build(UnifiedSequences s, int item, KitRandom rng)
        {
            var ids = new List<int> { s.Vocabulary[SpecialToken.Bos] };
            ids.AddRange(s.Encode(s.TextLines[item]));
            ids.Add(s.Vocabulary[SpecialToken.Eos]);
            return ids.ToArray();
        }
    }
}
