/*
 * threemin GraphiQL bootstrap. Replaces strawberry's inline <script> so the
 * page runs under a strict Content-Security-Policy (script-src 'self').
 *
 * Needs, loaded before it: React, ReactDOM, GraphiQL (UMD globals) and,
 * optionally, GraphiQLPluginExplorer.
 *
 * Keys are sent only in the Authorization header. Nothing is put in the URL
 * (the server refuses any request whose query string looks like it holds a
 * key), and headers are never persisted to localStorage.
 */
(function () {
  "use strict";

  // Signed in to the dashboard (the server marks the page): the session
  // cookie authenticates, so the schema loads at once and a placeholder
  // Authorization header must not be sent, or it would win over the cookie.
  var SIGNED_IN = document.getElementById("graphiql").hasAttribute("data-signed-in");

  var SIGNED_IN_QUERY = [
    "# Welcome to the threemin GraphQL API.",
    "#",
    "# You are signed in: these requests run as you, with your",
    "# role in each workspace. To try what a partner sees, put",
    "# a key in the Headers tab instead:",
    "#",
    "#   {\"Authorization\": \"Bearer tm_test_<36 chars>\"}",
    "#",
    "# Docs: the book icon. Run: Ctrl-Enter. Complete: Ctrl-Space.",
    "",
    "{",
    "  viewer {",
    "    kind",
    "    user { name email }",
    "    workspaces { id name role }",
    "  }",
    "}",
    "",
  ].join("\n");

  var KEY_QUERY = [
    "# Welcome to the threemin GraphQL API.",
    "#",
    "# Every request needs a key. In the Headers tab below,",
    "# replace tm_test_... with your whole key:",
    "#",
    "#   {\"Authorization\": \"Bearer tm_test_<36 chars>\"}",
    "#",
    "# Prefer a test key. It is sent only in that header,",
    "# is not saved in this browser and never goes in a URL.",
    "#",
    "# Docs (book icon) and autocompletion load once a whole",
    "# key is there. Run: Ctrl-Enter. Complete: Ctrl-Space.",
    "",
    "{",
    "  viewer {",
    "    kind",
    "    key {",
    "      id",
    "      environment",
    "      permissions",
    "      endpoint {",
    "        id",
    "        name",
    "      }",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  var DEFAULT_QUERY = SIGNED_IN ? SIGNED_IN_QUERY : KEY_QUERY;

  // ASCII only: fetch() rejects header values outside ISO-8859-1 (e.g. "…").
  var DEFAULT_HEADERS = SIGNED_IN
    ? "{}"
    : JSON.stringify({ Authorization: "Bearer tm_test_..." }, null, 2);

  // GraphiQL keeps tabs, the last query and the query history in
  // localStorage. shouldPersistHeaders: false keeps headers out of the tab
  // state, but GraphiQL 3.8.3's history ("graphiql:queries" and
  // "graphiql:favorites") stores each run's headers regardless. This storage
  // wrapper drops "headers" from those lists and, belt and braces, masks
  // anything shaped like a key in every value before it is written.
  var KEY_SHAPE = /tm_(test|live)_[0-9A-Za-z]{36}/g;
  var HISTORY_KEY = /^graphiql:(queries|favorites)$/;

  function scrub(name, value) {
    if (HISTORY_KEY.test(name)) {
      try {
        var parsed = JSON.parse(value);
        // History is saved as {"queries": [...]}, favourites as {"favorites": [...]}.
        ["queries", "favorites"].forEach(function (list) {
          if (parsed && Array.isArray(parsed[list])) {
            parsed[list].forEach(function (item) {
              if (item) delete item.headers;
            });
          }
        });
        value = JSON.stringify(parsed);
      } catch (e) {
        /* not JSON: fall through to the masking below */
      }
    }
    return String(value).replace(KEY_SHAPE, "tm_$1_[removed]");
  }

  var storage = null; // null: GraphiQL keeps nothing (e.g. storage blocked)
  try {
    var ls = window.localStorage;
    storage = {
      getItem: function (name) {
        return ls.getItem(name);
      },
      setItem: function (name, value) {
        ls.setItem(name, scrub(name, value));
      },
      removeItem: function (name) {
        ls.removeItem(name);
      },
      clear: function () {
        Object.keys(ls).forEach(function (name) {
          if (name.indexOf("graphiql:") === 0) ls.removeItem(name);
        });
      },
      get length() {
        return Object.keys(ls).filter(function (name) {
          return name.indexOf("graphiql:") === 0;
        }).length;
      },
    };
    // Clean up anything an older page version may have stored.
    ["graphiql:queries", "graphiql:favorites", "graphiql:headers"].forEach(
      function (name) {
        var v = ls.getItem(name);
        if (v !== null) {
          if (name === "graphiql:headers") ls.removeItem(name);
          else ls.setItem(name, scrub(name, v));
        }
      },
    );
  } catch (e) {
    storage = null;
  }

  // POST to the path this page was served from (e.g. /graphql), same origin.
  var url = window.location.pathname;

  var plugins = [];
  if (window.GraphiQLPluginExplorer) {
    plugins.push(window.GraphiQLPluginExplorer.explorerPlugin());
  }

  // The API answers nothing without a key, so GraphiQL must not fetch the
  // schema (docs, explorer, autocompletion) on load with the placeholder
  // header: `schema: null` holds it back. When a complete, new key shows up
  // in the Headers editor, drop that and hand GraphiQL a new fetcher, which
  // makes it introspect (again) with the headers now in the editor. (Its
  // own "Re-fetch GraphQL schema" button may send stale headers.)
  var BEARER_KEY = /^Bearer\s+tm_(test|live)_[0-9A-Za-z]{36}$/;
  var lastAuthorization = null;

  function authorizationIn(headersText) {
    try {
      var headers = JSON.parse(headersText);
      for (var name in headers) {
        if (name.toLowerCase() === "authorization") {
          return String(headers[name]).trim();
        }
      }
    } catch (e) {
      /* half-typed JSON */
    }
    return null;
  }

  function withoutPlaceholder(input, init) {
    var headers = Object.assign({}, (init && init.headers) || {});
    Object.keys(headers).forEach(function (name) {
      if (name.toLowerCase() === "authorization" && !BEARER_KEY.test(String(headers[name]).trim())) {
        delete headers[name];
      }
    });
    return window.fetch(input, Object.assign({}, init, { headers: headers, credentials: "same-origin" }));
  }

  function ThreeminGraphiQL() {
    var state = React.useState(SIGNED_IN ? 1 : 0);
    var schemaVersion = state[0];
    var setSchemaVersion = state[1];

    var fetcher = React.useMemo(
      function () {
        return GraphiQL.createFetcher({ url: url, fetch: withoutPlaceholder });
      },
      [schemaVersion],
    );

    function onEditHeaders(headersText) {
      var authorization = authorizationIn(headersText);
      if (
        authorization &&
        authorization !== lastAuthorization &&
        BEARER_KEY.test(authorization)
      ) {
        lastAuthorization = authorization;
        setSchemaVersion(function (v) {
          return v + 1;
        });
      }
    }

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      schema: schemaVersion === 0 ? null : undefined,
      storage: storage,
      plugins: plugins,
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: DEFAULT_HEADERS,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
      onEditHeaders: onEditHeaders,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(ThreeminGraphiQL),
  );
})();
