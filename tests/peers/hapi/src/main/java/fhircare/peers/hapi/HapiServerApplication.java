package fhircare.peers.hapi;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.provider.IJpaSystemProvider;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.IncomingRequestAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.autoconfigure.elasticsearch.ElasticsearchRestClientAutoConfiguration;
import org.springframework.boot.autoconfigure.quartz.QuartzAutoConfiguration;
import org.springframework.boot.autoconfigure.thymeleaf.ThymeleafAutoConfiguration;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;

/**
 * A HAPI FHIR JPA server for FHIR R4 on embedded H2, serving the FHIR base at {@code /fhir}.
 *
 * <p>It serves the REST API of HAPI's JPA server as its starter project wires it, less what a
 * test or benchmark peer does not need: no subscriptions, no MDM, no clinical reasoning, no request
 * validation, no narratives, no web UI. {@code server.port} and {@code hapi.data-dir} (where
 * the H2 files go) come from the command line, e.g. {@code --server.port=8090
 * --hapi.data-dir=/some/dir}; the listener is bound to 127.0.0.1 unless {@code server.address}
 * says otherwise.
 */
// HAPI brings Elasticsearch, Quartz and Thymeleaf onto the classpath; Spring Boot would otherwise
// start a client for a local Elasticsearch, a second Quartz scheduler and a template engine.
@SpringBootApplication(
		exclude = {
			ElasticsearchRestClientAutoConfiguration.class,
			QuartzAutoConfiguration.class,
			ThymeleafAutoConfiguration.class
		})
@Import(JpaServerConfig.class)
public class HapiServerApplication {

	public static void main(String[] args) {
		SpringApplication.run(HapiServerApplication.class, args);
	}

	/** The FHIR REST endpoint: every resource provider of the JPA server plus the system-level one. */
	@Bean
	public ServletRegistrationBean<RestfulServer> fhirServlet(
			FhirContext fhirContext,
			ResourceProviderFactory resourceProviders,
			IJpaSystemProvider systemProvider,
			IFhirSystemDao<?, ?> systemDao,
			JpaStorageSettings storageSettings,
			ISearchParamRegistry searchParamRegistry,
			IValidationSupport validationSupport,
			DatabaseBackedPagingProvider pagingProvider) {
		RestfulServer server = new RestfulServer(fhirContext);
		server.registerProviders(resourceProviders.createProviders());
		server.registerProvider(systemProvider);
		JpaCapabilityStatementProvider capabilities = new JpaCapabilityStatementProvider(
				server, systemDao, storageSettings, searchParamRegistry, validationSupport);
		capabilities.setImplementationDescription("HAPI FHIR R4 Server (fhircare test peer)");
		server.setServerConformanceProvider(capabilities);
		server.setPagingProvider(pagingProvider);
		server.setDefaultResponseEncoding(EncodingEnum.JSON);
		server.setServerAddressStrategy(new IncomingRequestAddressStrategy());

		ServletRegistrationBean<RestfulServer> registration = new ServletRegistrationBean<>(server, "/fhir/*");
		registration.setName("fhir");
		registration.setLoadOnStartup(1);
		return registration;
	}
}
