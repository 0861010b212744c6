"""Stop words, one list per language, for both backends and the query language.

English is Lucene's EnglishAnalyzer set (what the Elasticsearch mapping's ``_english_`` drops); German and
French are the most common part of Snowball's lists (articles, pronouns, particles), used by
:mod:`backend.search.text.lang_analysis`.
"""
from __future__ import annotations

STOP_WORDS = frozenset((
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with"
).split())

LANGUAGE_STOP_WORDS = {
    "de": frozenset((
        "aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes auch auf "
        "aus bei bin bis bist da damit dann das dass dasselbe dazu dein deine dem demselben den denn der derer "
        "derselbe derselben des desselben dessen dich die dies diese dieselbe dieselben diesem diesen dieser "
        "dieses dir doch dort du durch ein eine einem einen einer eines einig einige einigem einigen einiger "
        "einiges einmal er es etwas euch euer eure für gegen gewesen hab habe haben hat hatte hatten hier hin "
        "hinter ich ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im in indem ins ist jede jedem jeden jeder "
        "jedes jene jenem jenen jener jenes jetzt kann kein keine keinem keinen keiner keines können könnte "
        "machen man manche manchem manchen mancher manches mein meine mich mir mit muss musste nach nicht "
        "nichts noch nun nur ob oder ohne sehr sein seine seinem seinen seiner seines selbst sich sie sind so "
        "solche solchem solchen solcher solches soll sollte sondern sonst über um und uns unser unsere unter "
        "viel vom von vor während war waren warst was weil welche welchem welchen welcher welches wenn werde "
        "werden wie wieder will wir wird wirst wo wollen wollte würde würden zu zum zur zwar zwischen"
    ).split()),
    "fr": frozenset((
        "au aux avec ce ces dans de des du elle en et eux il ils je la le les leur lui ma mais me même mes moi "
        "mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos "
        "votre vous c d j l à m n s t y été étée étées étés étant suis es est sommes êtes sont serai sera "
        "serons seront ai as avons avez ont aura auront avait avaient eu cette cet lorsque selon dont où ledit "
        "ladite lesdits lesdites"
    ).split()),
}
