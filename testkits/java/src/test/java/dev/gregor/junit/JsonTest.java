package dev.gregor.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** The extension's own JSON, and the fault bodies it writes with it. */
class JsonTest {
    @Test
    void parsesWhatTheAdminPlaneAnswers() {
        Object parsed = Json.parse(" [{\"id\":1,\"topic\":null,\"ok\":true,\"ratio\":0.5,"
                + "\"name\":\"a\\\"b\\\\c\\n\\u00e9\",\"list\":[-2,{}]}] ");
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("id", 1L);
        expected.put("topic", null);
        expected.put("ok", true);
        expected.put("ratio", 0.5);
        expected.put("name", "a\"b\\c\né");
        expected.put("list", List.of(-2L, Map.of()));
        assertEquals(List.of(expected), parsed);
    }

    @Test
    void writesWhatItParses() {
        String text = "{\"a\":[1,2.5,\"x\\ty\"],\"b\":{\"c\":null,\"d\":false}}";
        assertEquals(text, Json.write(Json.parse(text)));
        assertEquals("\"\\u0001\"", Json.quote("\u0001"));
    }

    @Test
    void refusesWhatIsNotJson() {
        for (String bad : Arrays.asList("", "{", "[1,]", "{\"a\" 1}", "tru", "1 2", "\"\\x\"")) {
            assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
        }
    }

    @Test
    void faultsAreWrittenAsTheFaultPlaneReadsThem() {
        assertEquals("{\"api\":\"Produce\",\"topic\":\"orders\",\"action\":{\"error\":6},\"count\":2}",
                Fault.on("Produce").topic("orders").error(6).count(2).toJson());
        assertEquals("{\"api\":\"Fetch\",\"partition\":0,\"client_id\":\"app\",\"action\":\"disconnect\","
                + "\"count\":1,\"after\":{\"topic\":\"orders\",\"records\":1000}}",
                Fault.on("Fetch").partition(0).clientId("app").disconnect().after("orders", 1000).toJson());
        assertEquals("{\"api\":\"Fetch\",\"action\":{\"throttle_ms\":2000},\"count\":1}",
                Fault.on("Fetch").action("{\"throttle_ms\": 2000}").toJson());
        assertEquals("{\"api\":\"Produce\",\"action\":\"disconnect\",\"count\":3}",
                Fault.on("Produce").action("disconnect").count(3).toJson());
        assertThrows(IllegalStateException.class, () -> Fault.on("Produce").toJson());
        assertThrows(IllegalArgumentException.class, () -> Fault.on("Produce").count(0));
    }
}
