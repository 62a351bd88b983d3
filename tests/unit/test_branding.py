"""Branding through the Client: GetUICustomization / SetUICustomization (a domain required,
the CSS limited to Cognito's classes and properties, a PNG/JPEG logo of at most 100 KB, a
client's own customization over the pool's ALL), and CreateManagedLoginBranding,
DescribeManagedLoginBranding(ByClient), UpdateManagedLoginBranding, DeleteManagedLoginBranding
(one style per client, UseCognitoProvidedValues exclusive of Settings, Settings merged and
assets replaced by Category+ColorMode on update). Every refusal leaves the store as it was."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest

from authflow.core import branding as core
from authflow.errors import (
    InvalidParameterException,
    ManagedLoginBrandingExistsException,
    ResourceNotFoundException,
)
from tests.oauth_resources import Pool, contents

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0" + bytes(64)
CSS = ".submitButton-customizable { background-color: #ff6600; color: white; }"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def branded(**config) -> tuple[Pool, str]:
    """A pool with a domain, and one app client."""
    pool = Pool(**config)
    pool.client.create_user_pool_domain(UserPoolId=pool.id, Domain="brand-test")
    return pool, pool.env.app_id(pool.id)


def ui(pool: Pool, client_id: str | None = None) -> dict:
    kwargs = {"ClientId": client_id} if client_id else {}
    return pool.client.get_ui_customization(UserPoolId=pool.id, **kwargs)["UICustomization"]


# -- UI customization ------------------------------------------------------------------------------


def test_set_and_get_the_pool_default():
    pool, _ = branded()
    set_ = pool.client.set_ui_customization(UserPoolId=pool.id, ClientId="ALL", CSS=CSS, ImageFile=PNG)
    got = set_["UICustomization"]
    assert got["UserPoolId"] == pool.id and got["ClientId"] == "ALL" and got["CSS"] == CSS
    assert re.fullmatch(rf"https://d[a-z2-7]{{13}}\.cloudfront\.net/{pool.id}/ALL/\d{{14}}/assets/images/image\.png",
                        got["ImageUrl"])
    assert isinstance(got["CSSVersion"], str) and got["CreationDate"] == got["LastModifiedDate"]
    assert ui(pool) == got


def test_without_client_id_it_is_the_pool_default():
    pool, _ = branded()
    got = pool.client.set_ui_customization(UserPoolId=pool.id, CSS=CSS)["UICustomization"]
    assert got["ClientId"] == "ALL" and "ImageUrl" not in got
    assert ui(pool, "ALL") == got


def test_nothing_set_names_only_pool_and_client():
    pool, client_id = branded()
    assert ui(pool) == {"UserPoolId": pool.id, "ClientId": "ALL"}
    assert ui(pool, client_id) == {"UserPoolId": pool.id, "ClientId": client_id}


def test_a_client_without_its_own_is_shown_the_pool_default_and_its_own_overrides_it():
    pool, client_id = branded()
    default = pool.client.set_ui_customization(UserPoolId=pool.id, ClientId="ALL", CSS=CSS)["UICustomization"]
    assert ui(pool, client_id) == default
    own_css = ".label-customizable { font-weight: 700; }"
    own = pool.client.set_ui_customization(UserPoolId=pool.id, ClientId=client_id, CSS=own_css,
                                           ImageFile=JPEG)["UICustomization"]
    assert own["ClientId"] == client_id and own["CSS"] == own_css and own["ImageUrl"].endswith("/image.jpg")
    assert ui(pool, client_id) == own
    assert ui(pool) == default


def test_setting_again_replaces_both_css_and_logo_and_keeps_the_creation_date():
    pool, _ = branded()
    first = pool.client.set_ui_customization(UserPoolId=pool.id, CSS=CSS, ImageFile=PNG)["UICustomization"]
    pool.env.clock.advance(timedelta(seconds=5))
    second = pool.client.set_ui_customization(UserPoolId=pool.id, CSS=".label-customizable{font-weight:100}")[
        "UICustomization"]
    assert "ImageUrl" not in second and second["CreationDate"] == first["CreationDate"]
    assert second["LastModifiedDate"] > first["LastModifiedDate"] and second["CSSVersion"] != first["CSSVersion"]


def test_setting_neither_css_nor_logo_removes_the_customization():
    pool, client_id = branded()
    pool.client.set_ui_customization(UserPoolId=pool.id, CSS=CSS)
    pool.client.set_ui_customization(UserPoolId=pool.id, ClientId=client_id, CSS=CSS)
    assert pool.client.set_ui_customization(UserPoolId=pool.id, ClientId=client_id)["UICustomization"] == {
        "UserPoolId": pool.id, "ClientId": client_id}
    assert ui(pool, client_id)["ClientId"] == "ALL"  # back to the pool's


def test_a_pool_without_a_domain_is_refused():
    pool = Pool()
    for call in (pool.client.get_ui_customization, pool.client.set_ui_customization):
        pool.unchanged(InvalidParameterException, "There has to be an existing domain associated with this user pool",
                       call, UserPoolId=pool.id)


def test_unknown_pool_and_unknown_client_are_not_found():
    pool, _ = branded()
    pool.unchanged(ResourceNotFoundException, "User pool us-east-1_nope0000 does not exist.",
                   pool.client.set_ui_customization, UserPoolId="us-east-1_nope0000", CSS=CSS)
    pool.unchanged(ResourceNotFoundException, "User pool client nosuchclient does not exist.",
                   pool.client.set_ui_customization, UserPoolId=pool.id, ClientId="nosuchclient", CSS=CSS)
    pool.unchanged(ResourceNotFoundException, "User pool client nosuchclient does not exist.",
                   pool.client.get_ui_customization, UserPoolId=pool.id, ClientId="nosuchclient")


def test_a_client_of_another_pool_is_not_found():
    pool, _ = branded()
    other = pool.env.pool()
    foreign = pool.env.app_id(other)
    pool.unchanged(ResourceNotFoundException, f"User pool client {foreign} does not exist.",
                   pool.client.set_ui_customization, UserPoolId=pool.id, ClientId=foreign, CSS=CSS)


@pytest.mark.parametrize(("css", "reason"), [
    (".foo-customizable { color: red; }", "the selector '.foo-customizable' is not one Cognito allows"),
    ("body { color: red; }", "the selector 'body' is not one Cognito allows"),
    (".label-customizable:hover { font-weight: 100; }", "the selector '.label-customizable:hover' is not one"),
    (".label-customizable { color: red; }", "the property color may not be set on .label-customizable"),
    ("@import url(https://evil.example/x.css);", "at-rules"),
    ("@media print { .label-customizable { font-weight: 100; } }", "at-rules"),
    (".background-customizable { background-color: url(https://evil.example/x.png); }", "the value"),
    (".background-customizable { background-color: expression(alert(1)); }", "the value"),
    (".background-customizable { background-color: red; } </style><script>alert(1)</script>",
     "the character < is not allowed"),
    (".background-customizable { background-color: \"red\"; }", "the character \" is not allowed"),
    (".background-customizable { background-color: \\72 ed; }", "the character \\ is not allowed"),
    (".background-customizable { background-color red; }", "is not a declaration"),
    (".background-customizable { background-color: red; ", "expected a rule"),
    ("/* open comment .background-customizable { background-color: red; }", "a comment is not closed"),
])
def test_css_outside_cognitos_classes_and_properties_is_refused(css, reason):
    pool, _ = branded()
    before = contents(pool.client)
    with pytest.raises(InvalidParameterException) as caught:
        pool.client.set_ui_customization(UserPoolId=pool.id, CSS=css)
    assert caught.value.message.startswith("The CSS is not valid: ") and reason in caught.value.message
    assert contents(pool.client) == before


def test_every_documented_class_is_accepted():
    pool, _ = branded()
    css = "\n".join(f".{cls}{':' + pseudo if pseudo else ''} {{ {sorted(props)[0]}: 10px; }}"
                    for (cls, pseudo), props in core.ALLOWED.items())
    css += "\n/* a comment */ .submitButton-customizable, .idpButton-customizable:hover { color: rgba(0, 0, 0, .5); }"
    assert pool.client.set_ui_customization(UserPoolId=pool.id, CSS=css)["UICustomization"]["CSS"] == css


def test_images_must_be_png_or_jpeg_of_at_most_100_kb():
    pool, _ = branded()
    pool.unchanged(InvalidParameterException, "The image file must be a PNG or JPEG image.",
                   pool.client.set_ui_customization, UserPoolId=pool.id, ImageFile=b"GIF89a" + bytes(10))
    big = b"\x89PNG\r\n\x1a\n" + bytes(100 * 1024)
    pool.unchanged(InvalidParameterException,
                   f"The image file is {len(big)} bytes; a logo may be at most 102400 bytes (100 KB).",
                   pool.client.set_ui_customization, UserPoolId=pool.id, ImageFile=big)
    assert pool.client.set_ui_customization(UserPoolId=pool.id, ImageFile=b"\x89PNG\r\n\x1a\n" + bytes(102392))


def test_a_bad_image_refuses_the_css_with_it():
    pool, _ = branded()
    pool.unchanged(InvalidParameterException, "The image file must be a PNG or JPEG image.",
                   pool.client.set_ui_customization, UserPoolId=pool.id, CSS=CSS, ImageFile=b"not an image")


def test_a_base64_text_image_is_decoded_and_bad_base64_refused():
    pool, _ = branded()
    got = pool.client.set_ui_customization(UserPoolId=pool.id, ImageFile=base64.b64encode(PNG).decode())
    assert got["UICustomization"]["ImageUrl"].endswith(".png")
    pool.unchanged(InvalidParameterException, "ImageFile is not valid base64.",
                   pool.client.set_ui_customization, UserPoolId=pool.id, ImageFile="%%%")


def test_the_served_stylesheet_is_rewritten_from_the_rules():
    sheet = core.stylesheet("/* x */ .submitButton-customizable , .idpButton-customizable:hover "
                            "{color:red;}.label-customizable{font-weight:700}")
    assert sheet.splitlines()[1:] == [*core.PAGE_RULES, "html .submitButton-customizable { color: red; }",
                                      "html .idpButton-customizable:hover { color: red; }",
                                      "html .label-customizable { font-weight: 700; }"]


def test_the_customization_is_deleted_with_the_pool():
    pool, client_id = branded()
    pool.client.set_ui_customization(UserPoolId=pool.id, ClientId=client_id, CSS=CSS)
    pool.client.delete_user_pool_domain(UserPoolId=pool.id, Domain="brand-test")
    pool.client.delete_user_pool(UserPoolId=pool.id)
    assert pool.client.store.snapshot().auth.get(pool.id) is None


# -- managed login branding ------------------------------------------------------------------------

ASSET = {"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": PNG}
SETTINGS = {"components": {"primaryButton": {"lightMode": {"defaults": {"backgroundColor": "0972d3ff"}}}},
            "categories": {"form": {"displayGraphics": True}}}


def style(pool: Pool, client_id: str, **kwargs) -> dict:
    return pool.client.create_managed_login_branding(UserPoolId=pool.id, ClientId=client_id,
                                                     **kwargs)["ManagedLoginBranding"]


def test_create_describe_and_by_client():
    pool = Pool()
    client_id = pool.env.app_id(pool.id)  # no domain needed
    created = style(pool, client_id, Settings=SETTINGS, Assets=[ASSET])
    assert UUID4.fullmatch(created["ManagedLoginBrandingId"])
    assert created == {"ManagedLoginBrandingId": created["ManagedLoginBrandingId"], "UserPoolId": pool.id,
                       "UseCognitoProvidedValues": False, "Settings": SETTINGS, "Assets": [ASSET],
                       "CreationDate": created["CreationDate"], "LastModifiedDate": created["CreationDate"]}
    by_id = pool.client.describe_managed_login_branding(
        UserPoolId=pool.id, ManagedLoginBrandingId=created["ManagedLoginBrandingId"])["ManagedLoginBranding"]
    merged = pool.client.describe_managed_login_branding(
        UserPoolId=pool.id, ManagedLoginBrandingId=created["ManagedLoginBrandingId"],
        ReturnMergedResources=True)["ManagedLoginBranding"]
    by_client = pool.client.describe_managed_login_branding_by_client(
        UserPoolId=pool.id, ClientId=client_id)["ManagedLoginBranding"]
    assert by_id == merged == by_client == created


def test_cognito_provided_values_have_no_settings_but_may_have_assets():
    pool = Pool()
    created = style(pool, pool.env.app_id(pool.id), UseCognitoProvidedValues=True, Assets=[ASSET])
    assert created["UseCognitoProvidedValues"] is True and "Settings" not in created and created["Assets"] == [ASSET]


def test_cognito_provided_values_with_settings_is_refused():
    pool = Pool()
    client_id = pool.env.app_id(pool.id)
    pool.unchanged(InvalidParameterException,
                   "Settings cannot be given when UseCognitoProvidedValues is true: the style then takes Cognito's "
                   "default settings.",
                   pool.client.create_managed_login_branding, UserPoolId=pool.id, ClientId=client_id,
                   UseCognitoProvidedValues=True, Settings=SETTINGS)


def test_one_style_per_client():
    pool = Pool()
    client_id = pool.env.app_id(pool.id)
    first = style(pool, client_id, UseCognitoProvidedValues=True)
    pool.unchanged(ManagedLoginBrandingExistsException,
                   f"Managed login branding already exists for client {client_id}: {first['ManagedLoginBrandingId']}.",
                   pool.client.create_managed_login_branding, UserPoolId=pool.id, ClientId=client_id,
                   Settings=SETTINGS)
    assert style(pool, pool.env.app_id(pool.id), UseCognitoProvidedValues=True)  # another client may


@pytest.mark.parametrize(("assets", "message"), [
    ([ASSET, {**ASSET, "Extension": "JPEG"}],
     "Assets[1]: more than one asset has Category FORM_LOGO and ColorMode LIGHT."),
    ([{"Category": "FAVICON_ICO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": PNG}],
     "Assets[0]: an asset of Category FAVICON_ICO must have Extension ICO."),
    ([{"Category": "FORM_LOGO", "ColorMode": "DARK", "Extension": "PNG"}],
     "Assets[0]: an asset needs exactly one of Bytes and ResourceId."),
    ([{**ASSET, "ResourceId": "logo"}], "Assets[0]: an asset needs exactly one of Bytes and ResourceId."),
    ([{**ASSET, "Bytes": b""}], "Assets[0]: Bytes is empty."),
])
def test_bad_assets_are_refused(assets, message):
    pool = Pool()
    client_id = pool.env.app_id(pool.id)
    pool.unchanged(InvalidParameterException, message, pool.client.create_managed_login_branding,
                   UserPoolId=pool.id, ClientId=client_id, Assets=assets)


def test_settings_must_be_an_object():
    pool = Pool()
    pool.unchanged(InvalidParameterException, "Settings must be a JSON object.",
                   pool.client.create_managed_login_branding, UserPoolId=pool.id,
                   ClientId=pool.env.app_id(pool.id), Settings=["not", "an", "object"])


def test_update_merges_settings_and_replaces_assets_by_category_and_mode():
    pool = Pool()
    client_id = pool.env.app_id(pool.id)
    created = style(pool, client_id, Settings=SETTINGS, Assets=[ASSET])
    pool.env.clock.advance(timedelta(seconds=3))
    dark = {"Category": "FORM_LOGO", "ColorMode": "DARK", "Extension": "JPEG", "Bytes": JPEG}
    light = {**ASSET, "Extension": "JPEG", "Bytes": JPEG}
    updated = pool.client.update_managed_login_branding(
        UserPoolId=pool.id, ManagedLoginBrandingId=created["ManagedLoginBrandingId"],
        Settings={"categories": {"form": {"location": {"horizontal": "LEFT"}}}}, Assets=[dark, light],
    )["ManagedLoginBranding"]
    assert updated["Settings"] == {**SETTINGS, "categories": {"form": {"displayGraphics": True,
                                                                       "location": {"horizontal": "LEFT"}}}}
    assert updated["Assets"] == [dark, light]
    assert updated["CreationDate"] == created["CreationDate"] and updated["LastModifiedDate"] > created["CreationDate"]
    assert pool.client.describe_managed_login_branding_by_client(
        UserPoolId=pool.id, ClientId=client_id)["ManagedLoginBranding"] == updated


def test_update_to_cognito_provided_values_drops_the_custom_settings():
    pool = Pool()
    created = style(pool, pool.env.app_id(pool.id), Settings=SETTINGS, Assets=[ASSET])
    updated = pool.client.update_managed_login_branding(
        UserPoolId=pool.id, ManagedLoginBrandingId=created["ManagedLoginBrandingId"],
        UseCognitoProvidedValues=True)["ManagedLoginBranding"]
    assert updated["UseCognitoProvidedValues"] is True and "Settings" not in updated and updated["Assets"] == []


def test_update_refusals_change_nothing():
    pool = Pool()
    created = style(pool, pool.env.app_id(pool.id), Settings=SETTINGS)
    branding_id = created["ManagedLoginBrandingId"]
    pool.unchanged(InvalidParameterException, "ManagedLoginBrandingId is required.",
                   pool.client.update_managed_login_branding, UserPoolId=pool.id)
    pool.unchanged(InvalidParameterException, "UserPoolId is required.",
                   pool.client.update_managed_login_branding, ManagedLoginBrandingId=branding_id)
    pool.unchanged(InvalidParameterException,
                   "Settings cannot be given when UseCognitoProvidedValues is true: the style then takes Cognito's "
                   "default settings.",
                   pool.client.update_managed_login_branding, UserPoolId=pool.id, ManagedLoginBrandingId=branding_id,
                   UseCognitoProvidedValues=True, Settings={"a": 1})
    pool.unchanged(InvalidParameterException, "Assets[1]: more than one asset has Category FORM_LOGO and ColorMode "
                   "LIGHT.", pool.client.update_managed_login_branding, UserPoolId=pool.id,
                   ManagedLoginBrandingId=branding_id, Settings={"a": 1}, Assets=[ASSET, ASSET])


def test_delete_and_not_found():
    pool = Pool()
    client_id = pool.env.app_id(pool.id)
    created = style(pool, client_id, UseCognitoProvidedValues=True)
    branding_id = created["ManagedLoginBrandingId"]
    missing = "0f3e1a52-8d77-4c3a-9d0c-1b2c3d4e5f60"
    for call, kwargs in ((pool.client.describe_managed_login_branding, {}),
                         (pool.client.update_managed_login_branding, {"Settings": {"a": 1}}),
                         (pool.client.delete_managed_login_branding, {})):
        pool.unchanged(ResourceNotFoundException, f"Managed login branding {missing} does not exist.",
                       call, UserPoolId=pool.id, ManagedLoginBrandingId=missing, **kwargs)
    other = pool.env.pool()
    pool.unchanged(ResourceNotFoundException, f"Managed login branding {branding_id} does not exist.",
                   pool.client.describe_managed_login_branding, UserPoolId=other, ManagedLoginBrandingId=branding_id)
    assert pool.client.delete_managed_login_branding(UserPoolId=pool.id, ManagedLoginBrandingId=branding_id)
    pool.unchanged(ResourceNotFoundException, f"No managed login branding is associated with client {client_id}.",
                   pool.client.describe_managed_login_branding_by_client, UserPoolId=pool.id, ClientId=client_id)
    assert style(pool, client_id, UseCognitoProvidedValues=True)  # the client may have a new one


def test_branding_unknown_pool_and_client():
    pool = Pool()
    client_id = pool.env.app_id(pool.id)
    pool.unchanged(ResourceNotFoundException, "User pool us-east-1_nope0000 does not exist.",
                   pool.client.create_managed_login_branding, UserPoolId="us-east-1_nope0000", ClientId=client_id,
                   UseCognitoProvidedValues=True)
    for call in (pool.client.create_managed_login_branding, pool.client.describe_managed_login_branding_by_client):
        pool.unchanged(ResourceNotFoundException, "User pool client nosuchclient does not exist.",
                       call, UserPoolId=pool.id, ClientId="nosuchclient")


def test_styles_are_deleted_with_the_pool():
    pool = Pool()
    style(pool, pool.env.app_id(pool.id), Settings=SETTINGS, Assets=[ASSET])
    pool.client.delete_user_pool(UserPoolId=pool.id)
    assert pool.client.store.snapshot().auth.get(pool.id) is None


def test_records_survive_a_durable_store_reopened_and_go_with_the_pool(reopenable_store):
    import dataclasses

    from authflow.crypto.sealing import Keyring
    from tests.conftest import TEST_CONFIG, make_client

    config = dataclasses.replace(TEST_CONFIG, kek=Keyring(b"k" * 32))
    client = make_client(store=reopenable_store(), config=config)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    client_id = client.create_user_pool_client(UserPoolId=pool, ClientName="c")["UserPoolClient"]["ClientId"]
    client.create_user_pool_domain(UserPoolId=pool, Domain="brand-durable")
    set_ = client.set_ui_customization(UserPoolId=pool, ClientId=client_id, CSS=CSS, ImageFile=PNG)
    created = client.create_managed_login_branding(UserPoolId=pool, ClientId=client_id, Settings=SETTINGS,
                                                   Assets=[ASSET])["ManagedLoginBranding"]
    client.store.close()

    again = make_client(store=reopenable_store(), config=config)
    assert again.get_ui_customization(UserPoolId=pool, ClientId=client_id)["UICustomization"] == \
        set_["UICustomization"]
    assert again.describe_managed_login_branding_by_client(
        UserPoolId=pool, ClientId=client_id)["ManagedLoginBranding"] == created
    again.delete_user_pool_domain(UserPoolId=pool, Domain="brand-durable")
    again.delete_user_pool(UserPoolId=pool)
    with again.store.transaction() as tx:
        assert tx.get_resource(pool, core.UI_CUSTOMIZATION, client_id) is None
        assert tx.get_resource(pool, core.BRANDING, created["ManagedLoginBrandingId"]) is None
        assert tx.get_resource(pool, core.BRANDING_CLIENT, client_id) is None
    again.store.close()
