//! The coarse device fingerprint a wallet session is bound to: the browser family and the
//! operating system read from a `User-Agent`, without any version number, so that a browser
//! update (or a server-side renderer forwarding the cookie with the same browser's user agent)
//! keeps the session, while the same token presented by another browser or system does not.
//!
//! The classifier is deliberately small and dependency-free: a handful of product tokens that
//! browsers have sent for years, checked in a fixed order (Edge, Opera and Samsung Internet
//! announce themselves *and* claim to be Chrome and Safari; Chrome claims to be Safari; every
//! iOS user agent claims to be "like Mac OS X" and every Android one to be Linux). Anything it
//! does not recognise keeps the name of its first product token (`curl`, `okhttp`, an app's own
//! name…), so unrecognised clients are not all one class, and an empty user agent is a class of
//! its own that matches nothing but another empty user agent.
//!
//! A fingerprint is not a secret and not proof of anything: a thief who knows the victim's
//! browser can send the same user agent. It only stops a token from being replayed as is from
//! a different kind of client.

use std::fmt;

/// Longest product name kept for a client the classifier does not recognise.
const MAX_PRODUCT: usize = 32;

/// Browser family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Browser {
    /// Chrome and Chromium-based browsers that do not announce themselves (Brave, Vivaldi…),
    /// including Chrome on iOS and Android web views.
    Chrome,
    /// Microsoft Edge (Chromium and legacy), on every system.
    Edge,
    /// Firefox, including Firefox on iOS.
    Firefox,
    /// Safari (and other WebKit browsers on Apple systems that name no other family).
    Safari,
    /// Opera (desktop, Android, iOS, Presto).
    Opera,
    /// Samsung Internet.
    Samsung,
    /// A crawler or other robot.
    Bot,
    /// Anything else, by the lowercase name of its first product token (`curl`, `okhttp`…).
    Other(String),
    /// No user agent at all.
    None,
}

/// Operating system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Windows.
    Windows,
    /// macOS (and iPadOS in its default "desktop" mode, which sends a Mac user agent).
    MacOs,
    /// iOS (iPhone, iPod).
    Ios,
    /// iPadOS announcing an iPad.
    IpadOs,
    /// Android.
    Android,
    /// Linux and other X11 systems.
    Linux,
    /// ChromeOS.
    ChromeOs,
    /// Not recognised.
    Other,
}

/// A coarse device fingerprint: browser family and operating system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Browser family.
    pub browser: Browser,
    /// Operating system.
    pub os: Os,
}

fn has(ua: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| ua.contains(n))
}

fn is_bot(ua: &str) -> bool {
    let lower = ua.to_ascii_lowercase();
    ["bot", "crawl", "spider", "slurp", "headless"]
        .iter()
        .any(|n| lower.contains(n))
}

/// The lowercase name of the first product token (`curl/8.4.0` → `curl`), at most
/// [`MAX_PRODUCT`] characters of `[a-z0-9._-]`.
fn product(ua: &str) -> String {
    ua.trim()
        .split(['/', ' ', ';', '(', ')'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(MAX_PRODUCT)
        .collect::<String>()
        .to_ascii_lowercase()
}

fn browser(ua: &str, os: Os) -> Browser {
    if ua.trim().is_empty() {
        return Browser::None;
    }
    if is_bot(ua) {
        return Browser::Bot;
    }
    if has(ua, &["Edg/", "EdgA/", "EdgiOS/", "Edge/"]) {
        return Browser::Edge;
    }
    if has(ua, &["OPR/", "OPT/", "OPiOS/", "Opera"]) {
        return Browser::Opera;
    }
    if ua.contains("SamsungBrowser/") {
        return Browser::Samsung;
    }
    if has(ua, &["Firefox/", "FxiOS/"]) {
        return Browser::Firefox;
    }
    if has(ua, &["Chrome/", "CriOS/", "Chromium/"]) {
        return Browser::Chrome;
    }
    if ua.contains("Safari/") && matches!(os, Os::MacOs | Os::Ios | Os::IpadOs) {
        return Browser::Safari;
    }
    Browser::Other(product(ua))
}

fn os(ua: &str) -> Os {
    if ua.contains("Windows") {
        Os::Windows
    } else if ua.contains("iPad") {
        Os::IpadOs
    } else if has(ua, &["iPhone", "iPod"]) {
        Os::Ios
    } else if ua.contains("CrOS") {
        Os::ChromeOs
    } else if ua.contains("Android") {
        Os::Android
    } else if has(ua, &["Macintosh", "Mac OS X"]) {
        Os::MacOs
    } else if has(
        ua,
        &["Linux", "X11", "Ubuntu", "Fedora", "FreeBSD", "OpenBSD"],
    ) {
        Os::Linux
    } else {
        Os::Other
    }
}

impl Device {
    /// The device a user agent describes.
    #[must_use]
    pub fn of(user_agent: &str) -> Self {
        let os = os(user_agent);
        Device {
            browser: browser(user_agent, os),
            os,
        }
    }
}

impl fmt::Display for Device {
    /// A canonical text form, e.g. `chrome/windows` or `other:curl/other`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.browser {
            Browser::Chrome => f.write_str("chrome")?,
            Browser::Edge => f.write_str("edge")?,
            Browser::Firefox => f.write_str("firefox")?,
            Browser::Safari => f.write_str("safari")?,
            Browser::Opera => f.write_str("opera")?,
            Browser::Samsung => f.write_str("samsung")?,
            Browser::Bot => f.write_str("bot")?,
            Browser::Other(p) => write!(f, "other:{p}")?,
            Browser::None => f.write_str("none")?,
        }
        let os = match self.os {
            Os::Windows => "windows",
            Os::MacOs => "macos",
            Os::Ios => "ios",
            Os::IpadOs => "ipados",
            Os::Android => "android",
            Os::Linux => "linux",
            Os::ChromeOs => "chromeos",
            Os::Other => "other",
        };
        write!(f, "/{os}")
    }
}

/// The fingerprint of a user agent as text (see [`Device`]'s `Display`).
#[must_use]
pub fn fingerprint(user_agent: &str) -> String {
    Device::of(user_agent).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_120_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const CHROME_131_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36";
    const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
    const ANDROID_WEBVIEW: &str = "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.0.0 Mobile Safari/537.36";
    const CHROME_CROS: &str = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const CHROME_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1";
    const EDGE_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86";
    const EDGE_LEGACY: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045";
    const EDGE_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0";
    const OPERA_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0";
    const OPERA_PRESTO: &str = "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18";
    const SAMSUNG: &str = "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36";
    const FIREFOX_115_WIN: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0";
    const FIREFOX_133_WIN: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    const FIREFOX_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15";
    const SAFARI_MAC_17: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15";
    const SAFARI_MAC_18: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1.1 Safari/605.1.15";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
    const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1";
    const GOOGLEBOT: &str = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    const HEADLESS: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";

    #[test]
    fn real_user_agents_classify() {
        let table: &[(&str, &str)] = &[
            (CHROME_120_WIN, "chrome/windows"),
            (CHROME_131_WIN, "chrome/windows"),
            (CHROME_MAC, "chrome/macos"),
            (CHROME_LINUX, "chrome/linux"),
            (CHROME_ANDROID, "chrome/android"),
            (ANDROID_WEBVIEW, "chrome/android"),
            (CHROME_CROS, "chrome/chromeos"),
            (CHROME_IOS, "chrome/ios"),
            (EDGE_WIN, "edge/windows"),
            (EDGE_LEGACY, "edge/windows"),
            (EDGE_ANDROID, "edge/android"),
            (OPERA_WIN, "opera/windows"),
            (OPERA_PRESTO, "opera/windows"),
            (SAMSUNG, "samsung/android"),
            (FIREFOX_115_WIN, "firefox/windows"),
            (FIREFOX_LINUX, "firefox/linux"),
            (FIREFOX_IOS, "firefox/ios"),
            (SAFARI_MAC_17, "safari/macos"),
            (SAFARI_IPHONE, "safari/ios"),
            (SAFARI_IPAD, "safari/ipados"),
            (GOOGLEBOT, "bot/android"),
            (HEADLESS, "bot/linux"),
            ("curl/8.4.0", "other:curl/other"),
            ("python-requests/2.31.0", "other:python-requests/other"),
            ("okhttp/4.12.0", "other:okhttp/other"),
            ("wallet-auth-tests/1.0", "other:wallet-auth-tests/other"),
            ("", "none/other"),
            ("   ", "none/other"),
        ];
        for (ua, want) in table {
            assert_eq!(fingerprint(ua), *want, "{ua:?}");
        }
    }

    #[test]
    fn versions_do_not_matter() {
        assert_eq!(fingerprint(CHROME_120_WIN), fingerprint(CHROME_131_WIN));
        assert_eq!(fingerprint(FIREFOX_115_WIN), fingerprint(FIREFOX_133_WIN));
        assert_eq!(fingerprint(SAFARI_MAC_17), fingerprint(SAFARI_MAC_18));
        assert_eq!(fingerprint("curl/7.88.1"), fingerprint("curl/8.4.0"));
    }

    #[test]
    fn families_and_systems_differ() {
        let distinct = [
            CHROME_131_WIN,
            CHROME_MAC,
            CHROME_ANDROID,
            CHROME_IOS,
            EDGE_WIN,
            OPERA_WIN,
            SAMSUNG,
            FIREFOX_133_WIN,
            FIREFOX_IOS,
            SAFARI_MAC_17,
            SAFARI_IPHONE,
            SAFARI_IPAD,
            GOOGLEBOT,
            "curl/8.4.0",
            "okhttp/4.12.0",
            "",
        ];
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(fingerprint(a), fingerprint(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn odd_input_is_bounded_and_never_matches_a_browser() {
        let long = format!("{}/1.0", "x".repeat(10_000));
        let fp = fingerprint(&long);
        assert!(fp.len() < 64, "{fp}");
        // Control characters and non-ASCII never reach the fingerprint.
        assert_eq!(fingerprint("\u{1}é/1"), "other:/other");
        assert_ne!(fingerprint("\u{1}é/1"), fingerprint(""));
        // An empty user agent is not any browser's.
        for ua in [CHROME_131_WIN, SAFARI_IPHONE, "curl/8.4.0"] {
            assert_ne!(fingerprint(""), fingerprint(ua));
        }
    }
}
