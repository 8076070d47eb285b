"""The curated API of certs_tool: what simfleet and users import. Changing it is a decision."""

import certs_tool
import certs_tool.policy


def test_certs_tool_exports() -> None:
    assert sorted(certs_tool.__all__) == [
        "AlreadyExistsError", "CertsToolError", "DeviceRecord", "Fleet", "FleetError",
        "FleetMetadata", "FleetPaths", "InvalidInputError", "KeyType", "ManifestError",
        "MintInterrupted", "MintReport", "PassphraseError", "StorageError", "VerifyReport",
        "apply_policy_template", "certificate_id", "init_fleet", "load_authority", "load_fleet",
        "mint_devices", "verify_fleet",
    ]  # fmt: skip
    for name in certs_tool.__all__:
        assert getattr(certs_tool, name) is not None


def test_error_tree() -> None:
    for error in (certs_tool.InvalidInputError, certs_tool.FleetError, certs_tool.PassphraseError,
                  certs_tool.StorageError):  # fmt: skip
        assert issubclass(error, certs_tool.CertsToolError)
    assert issubclass(certs_tool.ManifestError, certs_tool.FleetError)
    assert issubclass(certs_tool.AlreadyExistsError, certs_tool.FleetError)
    assert issubclass(certs_tool.MintInterrupted, certs_tool.CertsToolError)
