// The hosted pages' passkey ceremonies (served from the domain itself, so the pages' CSP
// `script-src 'self'` allows it; no inline script anywhere).
//
// Sign-in (#passkey-form on /login): POST the username and the page's CSRF token to the
// form's data-options-url; the JSON answer holds the WEB_AUTHN step's Session and its
// PublicKeyCredentialRequestOptionsJSON; navigator.credentials.get answers it; the
// AuthenticationResponseJSON is submitted with the Session as an ordinary form.
//
// Registration (#passkey-add-form on /passkeys/add): the form's data-creation-options is
// PublicKeyCredentialCreationOptionsJSON; navigator.credentials.create answers it; the
// RegistrationResponseJSON is submitted with the CSRF token.
//
// Messages are set as text (textContent), never as markup.
"use strict";
(function () {
  function fromB64url(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const raw = atob(b64);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let raw = "";
    for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((d) => Object.assign({}, d, { id: fromB64url(d.id) }));
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, { challenge: fromB64url(json.challenge),
                                     allowCredentials: descriptors(json.allowCredentials) });
  }

  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, { challenge: fromB64url(json.challenge),
                                     user: Object.assign({}, json.user, { id: fromB64url(json.user.id) }),
                                     excludeCredentials: descriptors(json.excludeCredentials) });
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return { id: credential.id, rawId: toB64url(credential.rawId), type: credential.type, response: response,
             authenticatorAttachment: credential.authenticatorAttachment || undefined,
             clientExtensionResults: credential.getClientExtensionResults() };
  }

  function show(text) {
    const box = document.getElementById("passkey-error");
    box.textContent = text;
    box.hidden = false;
  }

  async function signIn(form) {
    const field = document.getElementById("signInFormUsername");
    const username = field ? field.value.trim() : "";
    if (!username) return show("Enter your username.");
    const body = new URLSearchParams({ _csrf: form.elements._csrf.value, username: username });
    let answer;
    try {
      const reply = await fetch(form.dataset.optionsUrl, { method: "POST", body: body, credentials: "same-origin",
                                                            headers: { Accept: "application/json" } });
      const kind = reply.headers.get("content-type") || "";
      answer = kind.startsWith("application/json") ? await reply.json()
        : { error: "The page is out of date. Reload it and try again." };
    } catch (err) {
      return show("The sign-in service could not be reached. Try again.");
    }
    if (answer.error) return show(answer.error);
    let credential;
    try {
      credential = await navigator.credentials.get({ publicKey: requestOptions(answer.options) });
    } catch (err) {
      return show("No passkey was used (" + err.name + "). Try again, or sign in another way.");
    }
    form.elements.session.value = answer.session;
    form.elements.username.value = answer.username;
    form.elements.credential.value = JSON.stringify(credentialJSON(credential));
    form.submit();
  }

  async function register(form) {
    let credential;
    try {
      const options = JSON.parse(form.dataset.creationOptions);
      credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    } catch (err) {
      return show("No passkey was made (" + err.name + "). Try again.");
    }
    form.elements.credential.value = JSON.stringify(credentialJSON(credential));
    form.submit();
  }

  function wire(formId, buttonId, run) {
    const form = document.getElementById(formId);
    const button = document.getElementById(buttonId);
    if (!form || !button || !window.PublicKeyCredential) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      button.disabled = true;
      run(form).finally(() => { button.disabled = false; });
    });
    document.body.dataset.passkeys = "ready";
  }

  wire("passkey-form", "passkey-button", signIn);
  wire("passkey-add-form", "passkey-add-button", register);
})();
