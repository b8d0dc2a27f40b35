/** Words that carry no topic: left out of topics and of summary sentence scores. */
export const STOPWORDS = new Set(
  `a about above after again against all also am an and any are aren't as at be because been before being
below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during
each either else even ever every few for from further get gets getting got had hadn't has hasn't have haven't
having he he'd he'll he's her here here's hers herself him himself his how how's however i i'd i'll i'm i've
if in into is isn't it it's its itself just let's like made make many may me might more most much must
mustn't my myself neither no nor not now of off on once one only or other ought our ours ourselves out over
own really same say said says shall shan't she she'd she'll she's should shouldn't since so some still such
than that that's the their theirs them themselves then there there's these they they'd they'll they're
they've thing things this those though through to too under until up upon us very via was wasn't way we we'd
we'll we're we've well were weren't what what's when when's where where's whether which while who who's whom
whose why why's will with won't would wouldn't yes yet you you'd you'll you're you've your yours yourself
yourselves`.split(/\s+/),
);

/** A small sentiment lexicon: enough for a label when no model is reachable, not a replacement for one. */
export const POSITIVE = new Set(
  `good great excellent amazing awesome wonderful fantastic love loved loves lovely like liked enjoy enjoyed
happy glad pleased delighted nice perfect best better brilliant superb helpful useful thanks thank grateful
appreciate appreciated success successful works worked working fixed solved resolved easy smooth fast
reliable impressive beautiful fun excited exciting cool recommend win won positive satisfied calm clear
right correct`.split(/\s+/),
);

export const NEGATIVE = new Set(
  `bad terrible awful horrible poor worst worse hate hated hates dislike angry annoyed annoying frustrated
frustrating upset sad unhappy disappointed disappointing broken broke bug bugs buggy crash crashed crashes
crashing fail failed failing fails failure error errors wrong slow problem problems issue issues difficult
hard confusing confused useless ugly painful pain sucks stuck lost worried worry afraid sorry unfortunately
negative boring outage down dead missing`.split(/\s+/),
);

/** Flip the polarity of a sentiment word within the next two words. */
export const NEGATORS = new Set(
  `not no never none nobody nothing neither nor cannot can't don't doesn't didn't isn't aren't wasn't weren't
won't wouldn't shouldn't couldn't hardly barely`.split(/\s+/),
);
