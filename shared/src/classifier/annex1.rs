//! Article 6(1) and Annex I: AI systems that are products, or safety components of
//! products, under Union harmonisation legislation requiring third-party conformity
//! assessment. The Article 6(3) derogation does not reach them.
use super::logic::{all, is, not};
use super::questionnaire::Q;
use super::rule::{Cite, Rule, from_annex_i};

pub fn products() -> Vec<Rule> {
    let mut r = Rule::new(
        "art6_1_annex1",
        Cite {
            article: "6(1)",
            annex: Some("I"),
            point: None,
            sub_point: None,
        },
        "Product or safety component of a product covered by Annex I legislation that must undergo third-party conformity assessment",
        all([
            is(Q::AnnexIProductOrSafetyComponent),
            is(Q::ThirdPartyConformityAssessment),
        ]),
        from_annex_i(),
    );
    r.out_of_scope = Some((
        all([
            is(Q::AnnexIProductOrSafetyComponent),
            not(Q::ThirdPartyConformityAssessment),
        ]),
        "Article 6(1)(b): an Annex I product or safety component is high-risk only where its legislation requires a third-party conformity assessment; it follows that legislation's own procedure",
    ));
    vec![r]
}
