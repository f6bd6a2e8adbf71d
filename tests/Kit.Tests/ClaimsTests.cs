// The claims' rules on hand-worked cases, and how a verdict reads the scale.
using Kit.Core;
using Kit.Evaluation;

namespace Kit.Tests;

public sealed class ClaimsTests
{
    [Theory]
    [InlineData(0.25, 0.10, true)]    // 2.5 × chance, 15 points over it
    [InlineData(0.15, 0.05, true)]    // exactly 3 × and exactly 10 points (0.15 − 0.05 is 0.0999… in floating point)
    [InlineData(0.04, 0.01, false)]   // 4 × chance but only 3 points over it
    [InlineData(0.50, 0.30, false)]   // 20 points over, but under twice chance
    [InlineData(0.20, 0.00, true)]    // chance 0: 10 points is the bar
    [InlineData(0.09, 0.00, false)]
    public void WellAboveChanceNeedsTwiceChanceAndTenPoints(double share, double chance, bool holds) =>
        Assert.Equal(holds, ClaimRule.WellAboveChance(share, chance).Holds);

    [Fact]
    public void ComparisonsSayWhatTheyCompared()
    {
        Assert.True(ClaimRule.Greater(21.5, 20, " dB").Holds);
        Assert.False(ClaimRule.Greater(20, 20).Holds);
        Assert.Equal("21.5 dB > 20 dB", ClaimRule.Greater(21.5, 20, " dB").Says);
        Assert.True(ClaimRule.AtLeast(0.58, 0.60, tolerance: 0.05).Holds);
        Assert.False(ClaimRule.AtLeast(0.54, 0.60, tolerance: 0.05).Holds);
        Assert.True(ClaimRule.Mostly(0.62, 0.35).Holds);
        Assert.False(ClaimRule.Mostly(0.45, 0.10).Holds);    // under a half
        Assert.False(ClaimRule.Mostly(0.55, 0.50).Holds);    // over a half, but 5 points over chance
        Assert.False(ClaimRule.Greater(2, 1).And(ClaimRule.Less(2, 1)).Holds);
    }

    [Fact]
    public void AVerdictSeparatesDoesNotHoldFromNotExpected()
    {
        var fails = ClaimRule.Greater(1, 2);
        Assert.Equal(Verdict.DoesNotHold, new Claim("f", "p", "r", fails).Verdict);
        Assert.Equal(Verdict.NotExpectedAtThisScale, new Claim("f", "p", "r", fails, ExpectedAtThisScale: false).Verdict);
        Assert.Equal(Verdict.Holds, new Claim("f", "p", "r", ClaimRule.Greater(2, 1), ExpectedAtThisScale: false).Verdict);
        var table = new ClaimsTable("a paper", new[] { new Claim("f", "p", "r", fails, false) }, RunScale.Quick);
        Assert.Contains("smoke test", table.Title);
        Assert.Contains("not expected at this scale", table.ToHtml());
        Assert.Throws<ArgumentException>(() => new ClaimsTable("a paper", Array.Empty<Claim>(), RunScale.Default));
    }
}
