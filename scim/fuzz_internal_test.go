package scim

import (
	"testing"

	"github.com/scimd/scimd/internal/directory"
	"github.com/scimd/scimd/internal/reqbody"
	"github.com/scimd/scimd/schemas"
)

// FuzzPatchOperations: any PATCH body is either refused with a client
// error or turned into operations whose paths parsed; never an internal
// error or a panic.
func FuzzPatchOperations(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@example.com"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","value":{"name.givenName":"A","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"m"}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"x\" or value eq \"y\"]"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"x509Certificates[value eq \"a\"].display"}]}`,
	} {
		f.Add([]byte(s))
	}
	users := newResourceSchema(schemas.User(), schemas.EnterpriseUser(), schemas.PlatformUser())
	groups := newResourceSchema(schemas.Group())
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := reqbody.Object(body)
		if err != nil {
			return
		}
		for _, rs := range []*resourceSchema{users, groups} {
			ops, err := rs.patchOperations(doc)
			if err != nil {
				if directory.KindOf(err) == directory.KindInternal {
					t.Fatalf("patchOperations(%s) = internal error %v", body, err)
				}
				continue
			}
			for _, op := range ops {
				if op.Op != opAdd && op.Op != opRemove && op.Op != opReplace {
					t.Fatalf("patchOperations(%s): op %q", body, op.Op)
				}
				if op.Path != nil {
					if _, err := rs.resolve(*op.Path, op.Path.String()); err != nil {
						t.Fatalf("patchOperations(%s): path %s does not resolve: %v", body, op.Path, err)
					}
				}
			}
		}
	})
}
