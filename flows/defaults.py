"""The flow definition that ships with the product (data only), covering the seed reasons.

Rules: standard library, `flows.model`, `offers.model` and `offers.winback` only. Prices and coupons named here are
the demo billing catalogue's; a real deployment edits them in the admin flow editor.
"""

from __future__ import annotations

from flows.model import FlowDefinition, FollowUp, ReasonDef, ReasonId
from offers.model import (
    DiscountOffer,
    DowngradeOffer,
    ExitInterviewOffer,
    OfferCopy,
    OfferId,
    PauseLength,
    PauseOffer,
    PauseUnit,
    TrainingOffer,
    TrialExtensionOffer,
)
from offers.winback import WinbackKind, WinbackOffer

PAUSE = OfferId("pause-2-months")
DOWNGRADE = OfferId("downgrade-starter")
TRAINING = OfferId("training-call")
CONTACT = OfferId("contact-support")
DISCOUNT = OfferId("discount-30-3-months")
TRIAL = OfferId("extend-trial-14-days")
FREE_PLAN = OfferId("free-plan")
EXIT_INTERVIEW = OfferId("exit-interview")
FREE_PRICE = "price_free"  # the demo catalogue's $0 plan (service.demo)

DEFAULT_OFFERS = (
    PauseOffer(
        id=PAUSE,
        # Two lengths so the card shows a choice; 2 months first (preselected), as the offer's id promises.
        lengths=(PauseLength(2, PauseUnit.MONTHS), PauseLength(3, PauseUnit.MONTHS)),
        copy=OfferCopy(
            title="Pause instead of cancelling",
            body="Take two or three months off. You won't be charged, and everything stays exactly where you left it.",
            accept_label="Pause my subscription",
        ),
    ),
    DowngradeOffer(
        id=DOWNGRADE,
        price_id="price_starter_monthly",
        plan_name="Starter",
        amount_cents=1900,
        copy=OfferCopy(
            title="Switch to Starter",
            body="Keep your account and your data on our smaller plan, for less each month.",
            accept_label="Switch to Starter",
        ),
    ),
    TrainingOffer(
        id=TRAINING,
        booking_url="https://example.com/book-a-session",
        copy=OfferCopy(
            title="Let us help you get more out of it",
            body="Book a free 30-minute session with our team and we'll set things up with you.",
            accept_label="Book a free session",
        ),
    ),
    TrainingOffer(
        id=CONTACT,
        booking_url="https://example.com/support",
        copy=OfferCopy(
            title="Let our team fix this for you",
            body="Tell us what isn't working. A support engineer will get back to you within one working day.",
            accept_label="Contact support",
        ),
    ),
    DiscountOffer(
        id=DISCOUNT,
        coupon_id="save30_3m",
        percent_off=30,
        duration_months=3,
        copy=OfferCopy(
            title="30% off for the next 3 months",
            body="Stay with us and pay 30% less for your next three invoices.",
            accept_label="Claim 30% off",
        ),
    ),
    TrialExtensionOffer(
        id=TRIAL,
        days=14,
        copy=OfferCopy(
            title="Two more weeks to try it",
            body="We'll extend your trial by 14 days, free.",
            accept_label="Extend my trial",
        ),
    ),
    # The seed's "downgrade to a forever-free plan": no more charges, and the account and its data stay.
    DowngradeOffer(
        id=FREE_PLAN,
        price_id=FREE_PRICE,
        plan_name="Free",
        amount_cents=0,
        copy=OfferCopy(
            title="Keep your account on our free plan",
            body="Move to the Free plan: no more charges, and your projects and files stay where they are.",
            accept_label="Switch to Free",
        ),
    ),
    # The seed's paid exit interview: the cancellation goes ahead; CS books the call and sends the gift card.
    ExitInterviewOffer(
        id=EXIT_INTERVIEW,
        incentive="$25 gift card",
        call_minutes=15,
        booking_url="https://example.com/exit-interview",
        copy=OfferCopy(
            title="Tell us why, get a $25 gift card",
            body="A 15-minute call with our product team about why you're leaving. Your cancellation still goes ahead.",
            accept_label="Book the call",
        ),
    ),
)


def _reason(
    rid: str, label: str, *offers: OfferId, follow_up: FollowUp = FollowUp.OPTIONAL, prompt: str = ""
) -> ReasonDef:
    return ReasonDef(
        id=ReasonId(rid),
        label=label,
        offer_ids=offers,
        follow_up=follow_up,
        follow_up_prompt=prompt or "Anything you'd like to add?",
    )


DEFAULT_REASONS = (
    _reason("too_expensive", "It's too expensive", PAUSE, DOWNGRADE),
    _reason("not_using", "I'm not using it enough", TRIAL, TRAINING, PAUSE, FREE_PLAN),
    _reason("no_value", "I didn't get the value I expected", TRAINING, PAUSE, DISCOUNT),
    _reason("missing_features", "It's missing features I need", CONTACT, prompt="Which features are you missing?"),
    _reason("temporary", "I only needed it for a project / season", PAUSE),
    _reason(
        "competitor",
        "I'm switching to another product",
        DISCOUNT,
        DOWNGRADE,
        EXIT_INTERVIEW,
        prompt="Which product, and why?",
    ),
    _reason("technical", "I ran into technical issues", CONTACT, prompt="What went wrong?"),
    _reason("other", "Something else", follow_up=FollowUp.REQUIRED, prompt="Please tell us why you're leaving."),
)


def default_definition() -> FlowDefinition:
    # Every offer a reason leads to fits on one screen, as cards the customer can compare.
    return FlowDefinition(
        key="default",
        reasons=DEFAULT_REASONS,
        offers=DEFAULT_OFFERS,
        feedback=False,
        max_offers=3,
        offers_per_step=3,
        copy=DEFAULT_COPY,
        # After a cancel: 30% off for 3 months, with the demo catalogue's coupon.
        winback=WinbackOffer(WinbackKind.DISCOUNT, coupon_id="save30_3m", percent_off=30, duration_months=3),
    )


DEFAULT_COPY: dict[str, dict[str, str]] = {
    "de": {
        "reason.too_expensive": "Es ist mir zu teuer",
        "reason.not_using": "Ich nutze es zu selten",
        "reason.no_value": "Es hat mir nicht den erwarteten Nutzen gebracht",
        "reason.missing_features": "Mir fehlen Funktionen, die ich brauche",
        "reason.temporary": "Ich brauchte es nur für ein Projekt oder eine Saison",
        "reason.competitor": "Ich wechsle zu einem anderen Produkt",
        "reason.technical": "Ich hatte technische Probleme",
        "reason.other": "Etwas anderes",
        "reason.missing_features.prompt": "Welche Funktionen fehlen Ihnen?",
        "reason.competitor.prompt": "Zu welchem Produkt, und warum?",
        "reason.technical.prompt": "Was ist schiefgelaufen?",
        "reason.other.prompt": "Bitte sagen Sie uns, warum Sie gehen.",
        "offer.pause-2-months.title": "Pausieren statt kündigen",
        "offer.pause-2-months.body": "Legen Sie zwei oder drei Monate Pause ein. Es wird nichts berechnet, und alles bleibt genau so, wie Sie es verlassen haben.",
        "offer.pause-2-months.accept": "Abo pausieren",
        "offer.downgrade-starter.title": "Zu Starter wechseln",
        "offer.downgrade-starter.body": "Behalten Sie Ihr Konto und Ihre Daten im kleineren Tarif, für weniger Geld im Monat.",
        "offer.downgrade-starter.accept": "Zu Starter wechseln",
        "offer.training-call.title": "Lassen Sie sich von uns helfen, mehr herauszuholen",
        "offer.training-call.body": "Buchen Sie eine kostenlose 30-minütige Sitzung mit unserem Team, und wir richten alles gemeinsam mit Ihnen ein.",
        "offer.training-call.accept": "Kostenlose Sitzung buchen",
        "offer.contact-support.title": "Unser Team löst das für Sie",
        "offer.contact-support.body": "Sagen Sie uns, was nicht funktioniert. Ein Support-Ingenieur meldet sich innerhalb eines Werktags.",
        "offer.contact-support.accept": "Support kontaktieren",
        "offer.discount-30-3-months.title": "30 % Rabatt für die nächsten 3 Monate",
        "offer.discount-30-3-months.body": "Bleiben Sie und zahlen Sie 30 % weniger für Ihre nächsten drei Rechnungen.",
        "offer.discount-30-3-months.accept": "30 % Rabatt sichern",
        "offer.extend-trial-14-days.title": "Zwei weitere Wochen zum Testen",
        "offer.extend-trial-14-days.body": "Wir verlängern Ihre Testphase kostenlos um 14 Tage.",
        "offer.extend-trial-14-days.accept": "Testphase verlängern",
        "offer.free-plan.title": "Behalten Sie Ihr Konto im kostenlosen Tarif",
        "offer.free-plan.body": "Wechseln Sie zu Free: keine Kosten mehr, und Ihre Projekte und Dateien bleiben erhalten.",
        "offer.free-plan.accept": "Zu Free wechseln",
        "offer.exit-interview.title": "Sagen Sie uns, warum, und erhalten Sie einen 25-$-Gutschein",
        "offer.exit-interview.body": "Ein 15-minütiges Gespräch mit unserem Produktteam über Ihre Gründe. Ihre Kündigung bleibt bestehen.",
        "offer.exit-interview.accept": "Gespräch buchen",
        "offer.exit-interview.incentive": "25-$-Gutschein",
    },
    "fr": {
        "reason.too_expensive": "C'est trop cher",
        "reason.not_using": "Je ne l'utilise pas assez",
        "reason.no_value": "Je n'en ai pas tiré la valeur attendue",
        "reason.missing_features": "Il manque des fonctionnalités dont j'ai besoin",
        "reason.temporary": "J'en avais besoin seulement pour un projet ou une saison",
        "reason.competitor": "Je passe à un autre produit",
        "reason.technical": "J'ai rencontré des problèmes techniques",
        "reason.other": "Autre chose",
        "reason.missing_features.prompt": "Quelles fonctionnalités vous manquent ?",
        "reason.competitor.prompt": "Quel produit, et pourquoi ?",
        "reason.technical.prompt": "Qu'est-ce qui n'a pas fonctionné ?",
        "reason.other.prompt": "Dites-nous pourquoi vous partez.",
        "offer.pause-2-months.title": "Faire une pause plutôt que résilier",
        "offer.pause-2-months.body": "Prenez deux ou trois mois de pause. Vous ne serez pas facturé, et tout restera exactement comme vous l'avez laissé.",
        "offer.pause-2-months.accept": "Mettre mon abonnement en pause",
        "offer.downgrade-starter.title": "Passer à l'offre Starter",
        "offer.downgrade-starter.body": "Gardez votre compte et vos données avec notre offre plus petite, pour moins cher chaque mois.",
        "offer.downgrade-starter.accept": "Passer à Starter",
        "offer.training-call.title": "Laissez-nous vous aider à en tirer davantage",
        "offer.training-call.body": "Réservez une session gratuite de 30 minutes avec notre équipe et nous configurerons tout avec vous.",
        "offer.training-call.accept": "Réserver une session gratuite",
        "offer.contact-support.title": "Laissez notre équipe régler le problème",
        "offer.contact-support.body": "Dites-nous ce qui ne fonctionne pas. Un ingénieur support vous répondra sous un jour ouvré.",
        "offer.contact-support.accept": "Contacter le support",
        "offer.discount-30-3-months.title": "30 % de réduction pendant 3 mois",
        "offer.discount-30-3-months.body": "Restez avec nous et payez 30 % de moins sur vos trois prochaines factures.",
        "offer.discount-30-3-months.accept": "Profiter de 30 % de réduction",
        "offer.extend-trial-14-days.title": "Deux semaines de plus pour essayer",
        "offer.extend-trial-14-days.body": "Nous prolongeons gratuitement votre essai de 14 jours.",
        "offer.extend-trial-14-days.accept": "Prolonger mon essai",
        "offer.free-plan.title": "Gardez votre compte avec notre offre gratuite",
        "offer.free-plan.body": "Passez à l'offre Free : plus aucun prélèvement, et vos projets et fichiers restent là.",
        "offer.free-plan.accept": "Passer à Free",
        "offer.exit-interview.title": "Dites-nous pourquoi, recevez une carte cadeau de 25 $",
        "offer.exit-interview.body": "Un appel de 15 minutes avec notre équipe produit sur les raisons de votre départ. Votre résiliation est maintenue.",
        "offer.exit-interview.accept": "Réserver l'appel",
        "offer.exit-interview.incentive": "carte cadeau de 25 $",
    },
    "es": {
        "reason.too_expensive": "Es demasiado caro",
        "reason.not_using": "No lo uso lo suficiente",
        "reason.no_value": "No obtuve el valor que esperaba",
        "reason.missing_features": "Le faltan funciones que necesito",
        "reason.temporary": "Solo lo necesitaba para un proyecto o una temporada",
        "reason.competitor": "Me cambio a otro producto",
        "reason.technical": "Tuve problemas técnicos",
        "reason.other": "Otra cosa",
        "reason.missing_features.prompt": "¿Qué funciones le faltan?",
        "reason.competitor.prompt": "¿A qué producto, y por qué?",
        "reason.technical.prompt": "¿Qué salió mal?",
        "reason.other.prompt": "Cuéntenos por qué se va.",
        "offer.pause-2-months.title": "Pausar en lugar de cancelar",
        "offer.pause-2-months.body": "Tómese dos o tres meses de descanso. No se le cobrará nada y todo quedará tal como lo dejó.",
        "offer.pause-2-months.accept": "Pausar mi suscripción",
        "offer.downgrade-starter.title": "Cambiar al plan Starter",
        "offer.downgrade-starter.body": "Conserve su cuenta y sus datos en nuestro plan más pequeño, pagando menos cada mes.",
        "offer.downgrade-starter.accept": "Cambiar a Starter",
        "offer.training-call.title": "Déjenos ayudarle a sacarle más partido",
        "offer.training-call.body": "Reserve una sesión gratuita de 30 minutos con nuestro equipo y lo configuraremos todo con usted.",
        "offer.training-call.accept": "Reservar una sesión gratuita",
        "offer.contact-support.title": "Deje que nuestro equipo lo resuelva",
        "offer.contact-support.body": "Cuéntenos qué no funciona. Un ingeniero de soporte le responderá en un día hábil.",
        "offer.contact-support.accept": "Contactar con soporte",
        "offer.discount-30-3-months.title": "30 % de descuento durante 3 meses",
        "offer.discount-30-3-months.body": "Quédese y pague un 30 % menos en sus próximas tres facturas.",
        "offer.discount-30-3-months.accept": "Obtener un 30 % de descuento",
        "offer.extend-trial-14-days.title": "Dos semanas más para probarlo",
        "offer.extend-trial-14-days.body": "Ampliamos su prueba gratuita 14 días más.",
        "offer.extend-trial-14-days.accept": "Ampliar mi prueba",
        "offer.free-plan.title": "Mantenga su cuenta en nuestro plan gratuito",
        "offer.free-plan.body": "Cámbiese al plan Free: sin más cargos, y sus proyectos y archivos se quedan donde están.",
        "offer.free-plan.accept": "Cambiar a Free",
        "offer.exit-interview.title": "Cuéntenos por qué y reciba una tarjeta regalo de 25 $",
        "offer.exit-interview.body": "Una llamada de 15 minutos con nuestro equipo de producto sobre por qué se va. Su cancelación sigue adelante.",
        "offer.exit-interview.accept": "Reservar la llamada",
        "offer.exit-interview.incentive": "tarjeta regalo de 25 $",
    },
}
