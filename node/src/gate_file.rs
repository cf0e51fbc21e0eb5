//! Gate thresholds from a TOML or JSON file (`--gate`).

use std::path::Path;

use anyhow::Context;
use mirage_quality::gate::GateThresholds;

/// The thresholds in `path` (unset keys keep their defaults), or the defaults.
pub fn load(path: Option<&Path>) -> anyhow::Result<GateThresholds> {
    let Some(path) = path else {
        return Ok(GateThresholds::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the gate file {}", path.display()))?;
    let thresholds: GateThresholds = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid gate file", path.display()))?
    } else {
        toml::from_str(&text)
            .with_context(|| format!("{} is not a valid gate file", path.display()))?
    };
    thresholds
        .validate()
        .with_context(|| format!("in the gate file {}", path.display()))?;
    Ok(thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_set_some_thresholds_and_refuse_typos() {
        let dir = tempfile::tempdir().expect("tempdir");
        let toml_path = dir.path().join("gate.toml");
        std::fs::write(
            &toml_path,
            "min_overall = 0.95\nmax_membership_auc = 0.55\n",
        )
        .expect("write");
        let gate = load(Some(&toml_path)).expect("loads");
        assert_eq!(gate.min_overall, 0.95);
        assert_eq!(gate.max_membership_auc, 0.55);
        assert_eq!(
            gate.max_attack_risk,
            GateThresholds::default().max_attack_risk
        );

        let json_path = dir.path().join("gate.json");
        std::fs::write(&json_path, r#"{"min_overal": 0.9}"#).expect("write");
        let err = format!("{:#}", load(Some(&json_path)).expect_err("typo"));
        assert!(
            err.contains("gate.json") && err.contains("min_overal"),
            "{err}"
        );

        std::fs::write(&toml_path, "min_overall = 7\n").expect("write");
        let err = format!("{:#}", load(Some(&toml_path)).expect_err("range"));
        assert!(err.contains("min_overall"), "{err}");
        assert!(load(Some(&dir.path().join("none.toml"))).is_err());
        assert_eq!(load(None).expect("defaults"), GateThresholds::default());
    }
}
