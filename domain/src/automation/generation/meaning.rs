//! What a field is for, read from its label and name ("Last name", `postcode`,
//! `companyName`), and a realistic value for it from the `fake` crate. Only a first
//! guess: every value is then fitted to and checked against the field's constraints.

use fake::Fake;
use fake::faker::{address, company, internet, job, lorem, name, phone_number};
use rand::Rng;

use crate::automation::definition::{FieldType, InputField};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    Email,
    FirstName,
    LastName,
    FullName,
    Company,
    JobTitle,
    Street,
    City,
    State,
    Postcode,
    Country,
    Phone,
    Username,
    Password,
    Website,
    Message,
    Age,
    Quantity,
    BirthDate,
    Generic,
}

/// Lower-case words of a label and a name: `companyName` and "Company name" both give
/// `company`, `name`.
fn words(field: &InputField) -> Vec<String> {
    let mut out = Vec::new();
    for raw in [field.label.as_deref().unwrap_or_default(), &field.name] {
        let mut word = String::new();
        let mut prev_lower = false;
        for c in raw.chars() {
            if c.is_alphanumeric() {
                if c.is_uppercase() && prev_lower && !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                prev_lower = c.is_lowercase();
                word.extend(c.to_lowercase());
            } else {
                prev_lower = false;
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

pub fn of(field: &InputField) -> Meaning {
    let w = words(field);
    let has = |k: &str| w.iter().any(|x| x == k);
    let any = |ks: &[&str]| ks.iter().any(|k| has(k));
    match field.field_type {
        FieldType::Email => return Meaning::Email,
        FieldType::Password => return Meaning::Password,
        FieldType::Tel => return Meaning::Phone,
        FieldType::Url => return Meaning::Website,
        FieldType::Textarea => return Meaning::Message,
        FieldType::Number if any(&["age"]) => return Meaning::Age,
        FieldType::Number if any(&["quantity", "qty", "count", "seats", "guests"]) => {
            return Meaning::Quantity;
        }
        FieldType::Date if any(&["birth", "birthday", "dob", "born"]) => {
            return Meaning::BirthDate;
        }
        _ => {}
    }
    // An identifier of something ("Company registration number", "VAT no.") is not the
    // thing's name: the rules do not know its format.
    let identifier = any(&[
        "registration",
        "number",
        "no",
        "id",
        "code",
        "reference",
        "ref",
        "vat",
        "tax",
        "iban",
        "account",
        "licence",
        "license",
        "serial",
    ]);
    if any(&["email", "mail"]) {
        Meaning::Email
    } else if any(&["phone", "telephone", "mobile", "cell"]) {
        Meaning::Phone
    } else if any(&["postcode", "postal", "zip", "zipcode"]) {
        Meaning::Postcode
    } else if identifier {
        Meaning::Generic
    } else if any(&["firstname", "forename", "given", "vorname"]) || (has("first") && has("name")) {
        Meaning::FirstName
    } else if any(&["lastname", "surname", "family", "nachname"]) || (has("last") && has("name")) {
        Meaning::LastName
    } else if any(&[
        "company",
        "organisation",
        "organization",
        "employer",
        "business",
    ]) {
        Meaning::Company
    } else if any(&["job", "position", "occupation", "profession"]) {
        Meaning::JobTitle
    } else if any(&["street", "address", "addr"]) {
        Meaning::Street
    } else if any(&["city", "town"]) {
        Meaning::City
    } else if any(&["state", "province", "region", "county"]) {
        Meaning::State
    } else if any(&["postcode", "postal", "zip", "zipcode"]) {
        Meaning::Postcode
    } else if any(&["country"]) {
        Meaning::Country
    } else if any(&["phone", "telephone", "mobile", "cell"]) {
        Meaning::Phone
    } else if any(&["username", "login", "user", "handle"]) {
        Meaning::Username
    } else if any(&["password", "passphrase"]) {
        Meaning::Password
    } else if any(&["website", "homepage", "url"]) {
        Meaning::Website
    } else if any(&[
        "message",
        "comment",
        "comments",
        "description",
        "notes",
        "bio",
    ]) {
        Meaning::Message
    } else if any(&["name", "fullname"]) {
        Meaning::FullName
    } else {
        Meaning::Generic
    }
}

/// A realistic text for the meaning (before fitting to lengths and patterns).
pub fn sample(meaning: Meaning, rng: &mut impl Rng) -> String {
    use fake::locales::EN;
    match meaning {
        Meaning::Email => internet::raw::SafeEmail(EN).fake_with_rng(rng),
        Meaning::FirstName => name::raw::FirstName(EN).fake_with_rng(rng),
        Meaning::LastName => name::raw::LastName(EN).fake_with_rng(rng),
        Meaning::FullName => name::raw::Name(EN).fake_with_rng(rng),
        Meaning::Company => company::raw::CompanyName(EN).fake_with_rng(rng),
        Meaning::JobTitle => job::raw::Title(EN).fake_with_rng(rng),
        Meaning::Street => {
            let number: String = address::raw::BuildingNumber(EN).fake_with_rng(rng);
            let street: String = address::raw::StreetName(EN).fake_with_rng(rng);
            format!("{number} {street}")
        }
        Meaning::City => address::raw::CityName(EN).fake_with_rng(rng),
        Meaning::State => address::raw::StateName(EN).fake_with_rng(rng),
        Meaning::Postcode => address::raw::PostCode(EN).fake_with_rng(rng),
        Meaning::Country => address::raw::CountryName(EN).fake_with_rng(rng),
        Meaning::Phone => phone_number::raw::PhoneNumber(EN).fake_with_rng(rng),
        Meaning::Username => internet::raw::Username(EN).fake_with_rng(rng),
        Meaning::Password => internet::raw::Password(EN, 12..20).fake_with_rng(rng),
        Meaning::Website => {
            let word: String = lorem::raw::Word(EN).fake_with_rng(rng);
            let suffix: String = internet::raw::DomainSuffix(EN).fake_with_rng(rng);
            format!("https://www.{word}.{suffix}/")
        }
        Meaning::Message => lorem::raw::Sentence(EN, 6..14).fake_with_rng(rng),
        Meaning::Age | Meaning::Quantity | Meaning::BirthDate | Meaning::Generic => {
            let w: Vec<String> = lorem::raw::Words(EN, 1..3).fake_with_rng(rng);
            w.join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, label: Option<&str>, t: FieldType) -> InputField {
        InputField {
            name: name.into(),
            label: label.map(Into::into),
            ..InputField::new(name, t)
        }
    }

    #[test]
    fn labels_and_names_say_what_a_field_is() {
        let t = FieldType::Text;
        assert_eq!(of(&field("companyName", None, t)), Meaning::Company);
        assert_eq!(of(&field("f3", Some("Last name"), t)), Meaning::LastName);
        assert_eq!(of(&field("given_name", None, t)), Meaning::FirstName);
        assert_eq!(of(&field("zip", None, t)), Meaning::Postcode);
        assert_eq!(of(&field("x", Some("Your name"), t)), Meaning::FullName);
        assert_eq!(of(&field("x", Some("E-mail"), t)), Meaning::Email);
        assert_eq!(of(&field("q", None, FieldType::Tel)), Meaning::Phone);
        assert_eq!(of(&field("age", None, FieldType::Number)), Meaning::Age);
        assert_eq!(
            of(&field("reg", Some("Registration no."), t)),
            Meaning::Generic
        );
    }
}
