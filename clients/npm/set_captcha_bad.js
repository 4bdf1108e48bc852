// Calls the npm package bestcaptchasolver's own set_captcha_bad once, against verdict, and prints
// how its promise settled as one line of JSON: {"resolved": <value>} or {"rejected": "<message>"}.
//
//   node set_captcha_bad.js https://127.0.0.1:PORT ACCESS_TOKEN CAPTCHA_ID
//
// The package has no host setting: its BASE_URL is a module constant, https://bcsapi.xyz/api,
// and requestify sends through Node's https.request. So https.request is wrapped, before the
// package is loaded, to send requests for the host bcsapi.xyz to verdict's address instead;
// method, path, headers and body stay the package's own. TLS is verified against the test
// certificate, which the caller passes in NODE_EXTRA_CA_CERTS.
'use strict';

const https = require('https');

const [base, token, id] = process.argv.slice(2);
const verdict = new URL(base);

const request = https.request;
https.request = function (options, ...rest) {
    if (options && typeof options === 'object' && options.hostname === 'bcsapi.xyz') {
        options = { ...options, hostname: verdict.hostname, port: verdict.port };
    }
    return request.call(this, options, ...rest);
};

const bcs = require('bestcaptchasolver');

function print(outcome) {
    process.stdout.write(JSON.stringify(outcome) + '\n');
}

// requestify leaves the package's promise unsettled when the connection itself fails.
const timer = setTimeout(() => {
    print({ unsettled: true });
    process.exit(3);
}, 30000);

bcs.set_access_token(token);
bcs.set_captcha_bad(id).then(
    (value) => {
        clearTimeout(timer);
        print({ resolved: value });
    },
    (error) => {
        clearTimeout(timer);
        print({ rejected: error.message });
    },
);
