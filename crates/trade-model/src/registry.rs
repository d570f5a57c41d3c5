//! The instrument registry: exchange symbols to canonical `BASE/QUOTE`.
//!
//! Loaded from a TOML file; [`InstrumentRegistry::bundled`] uses the one kept in this
//! crate (`instruments.toml`). An unknown symbol is a reject, never a guess.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::model::{Exchange, Instrument};

/// The registry file kept in the repository.
pub const BUNDLED_REGISTRY: &str = include_str!("../instruments.toml");

/// The registry file is not valid.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Not TOML, or not the expected shape.
    #[error("instrument registry: {0}")]
    Syntax(String),
    /// An override does not read `BASE/QUOTE`.
    #[error("instrument registry: {exchange}.overrides.{symbol}: `{target}` is not BASE/QUOTE")]
    BadOverride {
        /// Section.
        exchange: &'static str,
        /// The overridden exchange symbol.
        symbol: String,
        /// The value found.
        target: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeSection {
    #[serde(default)]
    quote_assets: Vec<String>,
    #[serde(default)]
    allowed_symbols: Vec<String>,
    #[serde(default)]
    asset_aliases: HashMap<String, String>,
    #[serde(default)]
    overrides: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    binance: ExchangeSection,
    #[serde(default)]
    kraken: ExchangeSection,
    #[serde(default)]
    coinbase: ExchangeSection,
}

/// How one exchange spells instruments.
#[derive(Debug, Clone, Default)]
struct ExchangeNaming {
    /// Longest first, so the longest matching suffix wins.
    quote_assets_longest_first: Vec<String>,
    /// Indexes into `quote_assets_longest_first`, by the quote's last byte (still longest
    /// first): a concatenated symbol is compared only with quotes that can be its suffix.
    quotes_by_last_byte: Vec<Vec<usize>>,
    allowed_symbols: HashSet<String>,
    asset_aliases: HashMap<String, String>,
    overrides: HashMap<String, Instrument>,
}

/// Maps exchange symbols to canonical instruments.
#[derive(Debug, Clone)]
pub struct InstrumentRegistry {
    binance: ExchangeNaming,
    kraken: ExchangeNaming,
    coinbase: ExchangeNaming,
}

impl InstrumentRegistry {
    /// The registry kept in the repository (`crates/trade-model/instruments.toml`).
    ///
    /// ```
    /// use trade_model::{Exchange, InstrumentRegistry};
    /// let registry = InstrumentRegistry::bundled();
    /// assert_eq!(registry.resolve(Exchange::Binance, "ETHBTC").unwrap().symbol(), "ETH/BTC");
    /// assert_eq!(registry.resolve(Exchange::Kraken, "XBT/CHF").unwrap().symbol(), "BTC/CHF");
    /// assert!(registry.resolve(Exchange::Binance, "NOPE").is_none());
    /// ```
    pub fn bundled() -> Self {
        // The bundled file is checked by a unit test; should it ever be broken, an empty
        // registry rejects everything as unknown instead of panicking on a data path.
        Self::from_toml(BUNDLED_REGISTRY).unwrap_or_else(|_| InstrumentRegistry {
            binance: ExchangeNaming::default(),
            kraken: ExchangeNaming::default(),
            coinbase: ExchangeNaming::default(),
        })
    }

    /// Parses a registry file's text.
    pub fn from_toml(text: &str) -> Result<Self, RegistryError> {
        let file: RegistryFile =
            toml::from_str(text).map_err(|error| RegistryError::Syntax(error.to_string()))?;
        Ok(InstrumentRegistry {
            binance: ExchangeNaming::build("binance", file.binance)?,
            kraken: ExchangeNaming::build("kraken", file.kraken)?,
            coinbase: ExchangeNaming::build("coinbase", file.coinbase)?,
        })
    }

    /// The canonical instrument for an exchange symbol, or `None` when unknown.
    pub fn resolve(&self, exchange: Exchange, symbol: &str) -> Option<Instrument> {
        let (base, quote) = self.resolve_parts(exchange, symbol)?;
        Some(Instrument::new(base, quote))
    }

    /// The canonical `BASE/QUOTE` text for an exchange symbol, or `None` when unknown.
    /// This is the hot path: one allocation, for the returned string.
    pub fn canonical_symbol(&self, exchange: Exchange, symbol: &str) -> Option<String> {
        let (base, quote) = self.resolve_parts(exchange, symbol)?;
        let mut text = String::with_capacity(base.len() + 1 + quote.len());
        text.push_str(base);
        text.push('/');
        text.push_str(quote);
        Some(text)
    }

    fn naming(&self, exchange: Exchange) -> &ExchangeNaming {
        match exchange {
            Exchange::Binance => &self.binance,
            Exchange::Kraken => &self.kraken,
            Exchange::Coinbase => &self.coinbase,
        }
    }

    fn resolve_parts<'s>(
        &'s self,
        exchange: Exchange,
        symbol: &'s str,
    ) -> Option<(&'s str, &'s str)> {
        let naming = self.naming(exchange);
        if !naming.allowed_symbols.is_empty() && !naming.allowed_symbols.contains(symbol) {
            return None;
        }
        if !naming.overrides.is_empty()
            && let Some(instrument) = naming.overrides.get(symbol)
        {
            return Some((instrument.base(), instrument.quote()));
        }
        let (base, quote) = match exchange {
            Exchange::Binance => {
                let last = *symbol.as_bytes().last()?;
                let quote = naming
                    .quotes_by_last_byte
                    .get(usize::from(last))?
                    .iter()
                    .map(|index| &naming.quote_assets_longest_first[*index])
                    .find(|quote| symbol.len() > quote.len() && symbol.ends_with(quote.as_str()))?;
                let base = &symbol[..symbol.len() - quote.len()];
                // The quote came from the list and Binance has no aliases unless configured.
                if naming.asset_aliases.is_empty() {
                    return is_asset_name(base).then_some((base, quote.as_str()));
                }
                (base, quote.as_str())
            }
            Exchange::Kraken => symbol.split_once('/')?,
            Exchange::Coinbase => symbol.split_once('-')?,
        };
        let base = naming.canonical_asset(base);
        let quote = naming.canonical_asset(quote);
        if !is_asset_name(base) || !naming.quote_assets_longest_first.iter().any(|q| q == quote) {
            return None;
        }
        Some((base, quote))
    }
}

impl ExchangeNaming {
    fn build(exchange: &'static str, section: ExchangeSection) -> Result<Self, RegistryError> {
        let mut quote_assets = section.quote_assets;
        quote_assets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        let mut overrides = HashMap::with_capacity(section.overrides.len());
        for (symbol, target) in section.overrides {
            let Some((base, quote)) = target.split_once('/') else {
                return Err(RegistryError::BadOverride {
                    exchange,
                    symbol,
                    target,
                });
            };
            if !is_asset_name(base) || !is_asset_name(quote) {
                return Err(RegistryError::BadOverride {
                    exchange,
                    symbol,
                    target,
                });
            }
            overrides.insert(symbol, Instrument::new(base, quote));
        }
        let mut quotes_by_last_byte: Vec<Vec<usize>> = vec![Vec::new(); 256];
        for (index, quote) in quote_assets.iter().enumerate() {
            if let Some(last) = quote.as_bytes().last() {
                quotes_by_last_byte[usize::from(*last)].push(index);
            }
        }
        Ok(ExchangeNaming {
            quote_assets_longest_first: quote_assets,
            quotes_by_last_byte,
            allowed_symbols: section.allowed_symbols.into_iter().collect(),
            asset_aliases: section.asset_aliases,
            overrides,
        })
    }

    fn canonical_asset<'s>(&'s self, asset: &'s str) -> &'s str {
        if self.asset_aliases.is_empty() {
            return asset;
        }
        self.asset_aliases.get(asset).map_or(asset, String::as_str)
    }
}

/// 2 to 12 upper-case ASCII letters or digits (Binance has `1000SATS`, Kraken `1INCH`).
fn is_asset_name(text: &str) -> bool {
    (2..=12).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(exchange: Exchange, raw: &str) -> Option<String> {
        InstrumentRegistry::bundled().canonical_symbol(exchange, raw)
    }

    #[test]
    fn bundled_registry_parses() {
        InstrumentRegistry::from_toml(BUNDLED_REGISTRY).unwrap();
    }

    #[test]
    fn binance_splits_on_longest_quote_suffix() {
        assert_eq!(
            symbol(Exchange::Binance, "ETHBTC").as_deref(),
            Some("ETH/BTC")
        );
        assert_eq!(
            symbol(Exchange::Binance, "BTCFDUSD").as_deref(),
            Some("BTC/FDUSD")
        );
        assert_eq!(
            symbol(Exchange::Binance, "BTCUSDT").as_deref(),
            Some("BTC/USDT")
        );
        assert_eq!(
            symbol(Exchange::Binance, "XRPETH").as_deref(),
            Some("XRP/ETH")
        );
        assert_eq!(
            symbol(Exchange::Binance, "BNBBTC").as_deref(),
            Some("BNB/BTC")
        );
        assert_eq!(
            symbol(Exchange::Binance, "1000SATSUSDT").as_deref(),
            Some("1000SATS/USDT")
        );
        assert_eq!(
            symbol(Exchange::Binance, "BTCTUSD").as_deref(),
            Some("BTC/TUSD")
        );
    }

    #[test]
    fn unknown_symbols_are_not_guessed() {
        for raw in [
            "USDT", "BTCXYZ", "btcusdt", "", "B/USDT", "ETH/BTC", "XBTUSDT ",
        ] {
            assert_eq!(symbol(Exchange::Binance, raw), None, "{raw:?}");
        }
        for raw in ["XBTUSD", "XBT/ZZZ", "XBT-USD", "/USD", "xbt/usd"] {
            assert_eq!(symbol(Exchange::Kraken, raw), None, "{raw:?}");
        }
        assert_eq!(symbol(Exchange::Coinbase, "BTC/USD"), None);
    }

    #[test]
    fn kraken_aliases_apply_to_both_sides() {
        assert_eq!(
            symbol(Exchange::Kraken, "XBT/CHF").as_deref(),
            Some("BTC/CHF")
        );
        assert_eq!(
            symbol(Exchange::Kraken, "XDG/USD").as_deref(),
            Some("DOGE/USD")
        );
        assert_eq!(
            symbol(Exchange::Kraken, "ETH/XBT").as_deref(),
            Some("ETH/BTC")
        );
        assert_eq!(
            symbol(Exchange::Kraken, "XMR/USD").as_deref(),
            Some("XMR/USD")
        );
        assert_eq!(
            symbol(Exchange::Kraken, "SC/EUR").as_deref(),
            Some("SC/EUR")
        );
        assert_eq!(
            symbol(Exchange::Kraken, "BCH/EUR").as_deref(),
            Some("BCH/EUR")
        );
    }

    #[test]
    fn coinbase_products_split_on_dash() {
        assert_eq!(
            symbol(Exchange::Coinbase, "BTC-USD").as_deref(),
            Some("BTC/USD")
        );
        assert_eq!(
            symbol(Exchange::Coinbase, "DASH-BTC").as_deref(),
            Some("DASH/BTC")
        );
    }

    #[test]
    fn overrides_pin_a_split() {
        let text = BUNDLED_REGISTRY.replacen(
            "[binance.overrides]",
            "[binance.overrides]\n\"BTCUSD\" = \"BTC/USD\"",
            1,
        );
        let registry = InstrumentRegistry::from_toml(&text).unwrap();
        assert_eq!(
            registry
                .canonical_symbol(Exchange::Binance, "BTCUSD")
                .as_deref(),
            Some("BTC/USD")
        );
        assert_eq!(symbol(Exchange::Binance, "BTCUSD"), None);
        let broken = BUNDLED_REGISTRY.replacen(
            "[binance.overrides]",
            "[binance.overrides]\n\"BTCUSD\" = \"BTCUSD\"",
            1,
        );
        assert!(matches!(
            InstrumentRegistry::from_toml(&broken),
            Err(RegistryError::BadOverride { .. })
        ));
    }

    #[test]
    fn allow_list_restricts() {
        let text =
            BUNDLED_REGISTRY.replacen("allowed_symbols = []", "allowed_symbols = [\"BTCUSDT\"]", 1);
        let registry = InstrumentRegistry::from_toml(&text).unwrap();
        assert!(registry.resolve(Exchange::Binance, "BTCUSDT").is_some());
        assert!(registry.resolve(Exchange::Binance, "ETHBTC").is_none());
    }
}
